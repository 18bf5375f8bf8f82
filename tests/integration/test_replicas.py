"""Two gateway replicas sharing one Redis: a change requested on one is confirmed on the other."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import httpx

from conftest import LiveGatewayFactory, Sandboxes, kibo_backend
from customer_gateway.otp.notify import OutboxNotifier
from support.graphql import gql

SHARED = """
[store]
url = "{url}"
[otp]
secret = "shared-otp-secret-0123456789"
"""
SIGN_IN = 'mutation { signIn(backend: "kibo", username: "ada.lovelace@example.com", password: "kibo-demo-pass") { token { accessToken } customer { id } } }'
REQUEST = 'mutation($id: ID!) { requestEmailChange(id: $id, email: "ada@example.org") { pending userErrors { code } } }'
CONFIRM = "mutation($id: ID!, $c: String!) { confirmEmailChange(id: $id, code: $c) { customer { email } userErrors { code } } }"
PENDING = '{ me(backend: "kibo") { pendingEmailChange } }'


def replicas(make: LiveGatewayFactory, sandboxes: Sandboxes, redis_url: str) -> tuple[Any, Any]:
    backends = kibo_backend("kibo", sandboxes.url("kibo"))
    extra = SHARED.format(url=redis_url)
    return make(backends, extra=extra), make(backends, extra=extra)


def code_from(replica: Any) -> str:
    notifier = replica.app.state.services.changes.notifier
    assert isinstance(notifier, OutboxNotifier)
    code = notifier.messages[-1].code
    assert code is not None
    return str(code)


def test_request_on_one_replica_confirm_on_the_other(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes, redis_url: str
) -> None:
    a, b = replicas(make_live_gateway, sandboxes, redis_url)
    signed = gql(a.client, SIGN_IN)["data"]["signIn"]
    token, cid = signed["token"]["accessToken"], signed["customer"]["id"]
    assert (
        gql(a.client, REQUEST, {"id": cid}, token=token)["data"]["requestEmailChange"]["pending"]
        is True
    )
    assert gql(b.client, PENDING, token=token)["data"]["me"]["pendingEmailChange"] is True
    done = gql(b.client, CONFIRM, {"id": cid, "c": code_from(a)}, token=token)["data"][
        "confirmEmailChange"
    ]
    assert done == {"customer": {"email": "ada@example.org"}, "userErrors": []}
    assert gql(a.client, PENDING, token=token)["data"]["me"]["pendingEmailChange"] is False


def test_twenty_concurrent_confirms_across_replicas_write_once(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes, redis_url: str
) -> None:
    a, b = replicas(make_live_gateway, sandboxes, redis_url)
    signed = gql(a.client, SIGN_IN)["data"]["signIn"]
    token, cid = signed["token"]["accessToken"], signed["customer"]["id"]
    gql(a.client, REQUEST, {"id": cid}, token=token)
    code = code_from(a)
    sandboxes.kibo.faults.add("delay", "/accounts/", method="PUT", delay_s=0.2)

    def confirm(i: int) -> dict[str, Any]:
        url = (a if i % 2 else b).url
        response = httpx.post(
            f"{url}/graphql",
            json={"query": CONFIRM, "variables": {"id": cid, "c": code}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=15,
        )
        return response.json()["data"]["confirmEmailChange"]  # type: ignore[no-any-return]

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(confirm, range(20)))
    assert any(not r["userErrors"] for r in results)
    assert {e["code"] for r in results for e in r["userErrors"]} <= {"CHANGE_IN_PROGRESS"}
    assert sandboxes.kibo.journal.count("PUT") == 1


def test_rate_limits_hold_across_replicas(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes, redis_url: str
) -> None:
    a, b = replicas(make_live_gateway, sandboxes, redis_url)
    sandboxes.kibo.add_customer(email="limits@example.com", password="limits-pass")
    signed = gql(
        a.client,
        'mutation { signIn(backend: "kibo", username: "limits@example.com", password: "limits-pass") { token { accessToken } customer { id } } }',
    )["data"]["signIn"]
    token, cid = signed["token"]["accessToken"], signed["customer"]["id"]
    outcomes = [gql(r.client, REQUEST, {"id": cid}, token=token) for r in (a, b, a, b)]
    assert [o["data"]["requestEmailChange"]["pending"] for o in outcomes[:3]] == [True, True, True]
    assert outcomes[3]["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


def test_readiness_reports_the_shared_store(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes, redis_url: str
) -> None:
    a, _ = replicas(make_live_gateway, sandboxes, redis_url)
    assert a.client.get("/readyz").json()["store"] == "ok"
    broken = make_live_gateway(
        kibo_backend("kibo", sandboxes.url("kibo")),
        extra=SHARED.format(url="redis://127.0.0.1:1/0"),
    )
    ready = broken.client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["store"] == "unreachable"
    assert broken.client.get("/healthz").status_code == 200
