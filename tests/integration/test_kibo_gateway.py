"""The gateway on Kibo: tickets, accounts, contacts, listings, and the gateway-run OTP flow.

What every connector kind does alike (sign-in, refresh, `me`, updates, each change flow,
refusals, upstream failures, hostile ids) is the connector contract, in tests/contract.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from conftest import (
    ADMIN_KEY,
    GatewayFactory,
    LiveGatewayFactory,
    Sandboxes,
    kibo_backend,
    loyalty_backend,
)
from customer_gateway.otp.notify import OutboxNotifier
from customer_gateway.sandbox.kibo import KiboSandbox
from support.clock import ManualClock
from support.graphql import error_codes, gql

ADA = ("ada.lovelace@example.com", "kibo-demo-pass")
SIGN_IN = """mutation($u: String!, $p: String!) { signIn(backend: "kibo", username: $u, password: $p) {
  token { accessToken refreshToken expiresAt refreshExpiresAt }
  customer { id nativeId email phoneNumber firstName lastName locale marketingOptIn status loyalty { points } level { name } }
  userErrors { field code } } }"""
REQUEST_EMAIL = "mutation($id: ID!, $e: String!) { requestEmailChange(id: $id, email: $e) { pending expiresAt customer { email pendingEmailChange } userErrors { field code } } }"
CONFIRM_EMAIL = "mutation($id: ID!, $c: String!) { confirmEmailChange(id: $id, code: $c) { customer { email pendingEmailChange } userErrors { field code message } } }"
REQUEST_PHONE = "mutation($id: ID!, $p: String!) { requestPhoneNumberChange(id: $id, phoneNumber: $p) { pending customer { phoneNumber pendingPhoneNumberChange } userErrors { field code } } }"
CONFIRM_WITH_RETRY = "mutation($id: ID!, $c: String!) { confirmEmailChange(id: $id, code: $c) { customer { email } userErrors { code retryAfter } } }"
CONFIRM_PHONE = "mutation($id: ID!, $c: String!) { confirmPhoneNumberChange(id: $id, code: $c) { customer { phoneNumber pendingPhoneNumberChange } userErrors { code } } }"


def sign_in(gateway: TestClient, who: tuple[str, str] = ADA) -> dict[str, Any]:
    payload: dict[str, Any] = gql(gateway, SIGN_IN, {"u": who[0], "p": who[1]})["data"]["signIn"]
    assert payload["userErrors"] == [], payload
    return payload


@pytest.fixture
def kibo(sandboxes: Sandboxes) -> KiboSandbox:
    return sandboxes.kibo


def codes(gateway: TestClient) -> OutboxNotifier:
    return codes_of(gateway.app)  # type: ignore[arg-type]


def codes_of(app: Starlette) -> OutboxNotifier:
    notifier = app.state.services.changes.notifier
    assert isinstance(notifier, OutboxNotifier)
    return notifier


def last_code(gateway: TestClient) -> str:
    code = codes(gateway).messages[-1].code
    assert code is not None
    return code


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


# --- tickets -------------------------------------------------------------------------------


def test_sign_in_maps_the_ticket(kibo_gateway: TestClient, kibo: KiboSandbox) -> None:
    payload = sign_in(kibo_gateway)
    token, customer = payload["token"], payload["customer"]
    assert token["accessToken"].count(".") == 0  # Kibo's opaque shopper token, not the JWT
    assert len(token["refreshToken"]) == 32
    now = datetime.now(UTC)
    expires = datetime.fromisoformat(token["expiresAt"])
    assert timedelta(minutes=14) < expires - now <= timedelta(minutes=15)
    assert (
        timedelta(hours=23)
        < datetime.fromisoformat(token["refreshExpiresAt"]) - now
        <= timedelta(hours=24)
    )
    assert customer["nativeId"].isdigit() and customer["phoneNumber"] == "+14155550101"
    assert customer["loyalty"]["points"] == 1720 and customer["level"]["name"] == "Gold"


def test_every_tenant_call_carries_the_app_token_and_context(
    kibo_gateway: TestClient, kibo: KiboSandbox
) -> None:
    token = sign_in(kibo_gateway)["token"]["accessToken"]
    gql(kibo_gateway, '{ me(backend: "kibo") { email } }', token=token)
    gql(kibo_gateway, '{ me(backend: "kibo") { email } }', token=token)
    assert kibo.journal.count("POST", "oauth") == 1  # cached across requests
    tenant_calls = [e for e in kibo.journal.entries if "oauth" not in e.path]
    assert all(
        e.headers["x-vol-tenant"] == "12345" and e.headers["x-vol-site"] == "67890"
        for e in tenant_calls
    )
    assert all(
        e.headers["authorization"].startswith("Bearer ") and token not in e.headers["authorization"]
        for e in tenant_calls
    )
    current = kibo.journal.matching("GET", "accounts/current")
    assert len(current) == 2 and all(e.headers["x-vol-user-claims"] == token for e in current)


def test_refresh_rotates_and_the_old_refresh_token_dies(
    kibo_gateway: TestClient, kibo: KiboSandbox
) -> None:
    first = sign_in(kibo_gateway)["token"]
    refresh = 'mutation($t: String) { refreshToken(backend: "kibo", refreshToken: $t) { token { accessToken refreshToken } customer { email } userErrors { field code } } }'
    second = gql(kibo_gateway, refresh, {"t": first["refreshToken"]})["data"]["refreshToken"]
    assert second["customer"]["email"] == ADA[0]
    assert second["token"]["refreshToken"] != first["refreshToken"]
    put = kibo.journal.matching("PUT", "authtickets/refresh")[0]
    assert put.body == b"" and f"refreshToken={first['refreshToken']}" in put.query
    again = gql(kibo_gateway, refresh, {"t": first["refreshToken"]})["data"]["refreshToken"]
    assert again["userErrors"] == [{"field": ["refreshToken"], "code": "INVALID_TOKEN"}]


def test_concurrent_refreshes_with_one_token_make_one_upstream_call(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes, kibo: KiboSandbox
) -> None:
    gateway = make_live_gateway(kibo_backend("kibo", sandboxes.url("kibo")))
    refresh_token = sign_in(gateway.client)["token"]["refreshToken"]  # type: ignore[arg-type]
    # Long enough that every request reaches the gateway while the first refresh is in flight.
    kibo.faults.add("delay", "authtickets/refresh", delay_s=1.5)
    query = 'mutation($t: String) { refreshToken(backend: "kibo", refreshToken: $t) { token { accessToken refreshToken } userErrors { code } } }'

    async def refresh_all() -> list[dict[str, Any]]:
        limits = httpx.Limits(max_connections=10)
        async with httpx.AsyncClient(base_url=gateway.url, limits=limits, timeout=10) as client:
            payload = {"query": query, "variables": {"t": refresh_token}}
            responses = await asyncio.gather(
                *(client.post("/graphql", json=payload) for _ in range(10))
            )
        return [r.json()["data"]["refreshToken"] for r in responses]

    results = asyncio.run(refresh_all())
    assert kibo.journal.count("PUT", "authtickets/refresh") == 1
    assert len({r["token"]["accessToken"] for r in results}) == 1
    assert all(r["userErrors"] == [] for r in results)


# --- accounts ------------------------------------------------------------------------------


def test_update_puts_the_whole_account_so_unsent_fields_survive(
    kibo_gateway: TestClient, kibo: KiboSandbox
) -> None:
    ada = sign_in(kibo_gateway)
    native = int(ada["customer"]["nativeId"])
    kibo._accounts[native].data["taxId"] = "TAX-1"
    body = gql(
        kibo_gateway,
        'mutation($id: ID!) { updateCustomer(id: $id, input: {lastName: "King", locale: "en-GB", marketingOptIn: true}) { customer { lastName locale marketingOptIn phoneNumber } userErrors { code } } }',
        {"id": ada["customer"]["id"]},
        token=ada["token"]["accessToken"],
    )
    assert body["data"]["updateCustomer"]["customer"] == {
        "lastName": "King",
        "locale": "en-GB",
        "marketingOptIn": True,
        "phoneNumber": "+14155550101",
    }
    stored = kibo.account(native)
    assert (
        stored["taxId"] == "TAX-1" and stored["firstName"] == "Ada" and len(stored["contacts"]) == 1
    )
    put = kibo.journal.matching("PUT", f"accounts/{native}")[0].json()
    assert put["taxId"] == "TAX-1" and put["lastName"] == "King"


def test_admin_list_uses_item_offsets(kibo_gateway: TestClient, kibo: KiboSandbox) -> None:
    query = 'query($a: String) { customers(backend: "kibo", first: 10, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { node { nativeId } } } }'
    first = gql(kibo_gateway, query, admin_key=ADMIN_KEY)["data"]["customers"]
    second = gql(kibo_gateway, query, {"a": first["pageInfo"]["endCursor"]}, admin_key=ADMIN_KEY)[
        "data"
    ]["customers"]
    assert first["totalCount"] == 27
    ids = [e["node"]["nativeId"] for e in first["edges"] + second["edges"]]
    assert len(ids) == len(set(ids)) == 20
    assert [
        e.query
        for e in kibo.journal.matching("GET", "/commerce/customer/accounts")
        if "startIndex" in e.query
    ][-1].startswith("startIndex=10")
    filtered = gql(
        kibo_gateway,
        '{ customers(backend: "kibo", filter: {email: "ada.lovelace@example.com"}) { totalCount edges { node { email } } } }',
        admin_key=ADMIN_KEY,
    )
    assert filtered["data"]["customers"]["totalCount"] == 1


def test_admin_reads_and_deactivation(kibo_gateway: TestClient, kibo: KiboSandbox) -> None:
    ada = sign_in(kibo_gateway)["customer"]
    read = gql(
        kibo_gateway,
        "query($id: ID!) { customer(id: $id) { email } }",
        {"id": ada["id"]},
        admin_key=ADMIN_KEY,
    )
    assert read["data"]["customer"]["email"] == ADA[0]
    off = gql(
        kibo_gateway,
        "mutation($id: ID!) { deactivateCustomer(id: $id) { customer { active status } } }",
        {"id": ada["id"]},
        admin_key=ADMIN_KEY,
    )
    assert off["data"]["deactivateCustomer"]["customer"] == {"active": False, "status": "BLOCKED"}
    assert (
        gql(kibo_gateway, SIGN_IN, {"u": ADA[0], "p": ADA[1]})["data"]["signIn"]["userErrors"][0][
            "code"
        ]
        == "INVALID_CREDENTIALS"
    )


def test_a_list_page_with_loyalty_makes_bounded_loyalty_calls(
    kibo_gateway: TestClient, sandboxes: Sandboxes
) -> None:
    loyalty = sandboxes.loyalty
    for i in range(30):
        sandboxes.kibo.add_customer(email=f"bulk{i}@example.com", password="p")
        loyalty.add_customer(email=f"bulk{i}@example.com", points=10 * i + 1)
    gql(kibo_gateway, '{ levels(backend: "loyalty") { name } }')
    loyalty.journal.clear()
    body = gql(
        kibo_gateway,
        '{ customers(backend: "kibo", first: 50) { edges { node { email loyalty { points } } } } }',
        admin_key=ADMIN_KEY,
    )
    edges = body["data"]["customers"]["edges"]
    assert len(edges) == 50
    members = {c["email"] for c in (loyalty.customer(i) for i in loyalty._customers)}
    in_loyalty = [e for e in edges if e["node"]["email"] in members]
    lookups = [
        e for e in loyalty.journal.matching("GET", "/admin/customer") if "/status" not in e.path
    ]
    statuses = loyalty.journal.matching("GET", "/status")
    # One lookup per distinct email and one status per loyalty member: never more.
    assert len(lookups) == 50
    assert len(statuses) == len(in_loyalty) == len({e.path for e in statuses})
    assert all(e["node"]["loyalty"] is None for e in edges if e["node"]["email"] not in members)


# --- the gateway-run OTP flow --------------------------------------------------------------


def test_phone_change_writes_the_primary_contact(
    kibo_gateway: TestClient, kibo: KiboSandbox
) -> None:
    """Kibo keeps phones on contacts: the confirmed number replaces the primary one's."""
    ada = sign_in(kibo_gateway)
    token, cid, native = (
        ada["token"]["accessToken"],
        ada["customer"]["id"],
        int(ada["customer"]["nativeId"]),
    )
    gql(kibo_gateway, REQUEST_PHONE, {"id": cid, "p": "+14155550177"}, token=token)
    gql(kibo_gateway, CONFIRM_PHONE, {"id": cid, "c": last_code(kibo_gateway)}, token=token)
    contacts = kibo.account(native)["contacts"]
    assert len(contacts) == 1 and contacts[0]["phoneNumbers"]["mobile"] == "+14155550177"


def test_phone_for_a_customer_without_contacts_creates_a_primary_one(
    kibo_gateway: TestClient, kibo: KiboSandbox
) -> None:
    kibo.add_customer(
        email="nophone@example.com", password="pw-123456", first_name="No", last_name="Phone"
    )
    who = sign_in(kibo_gateway, ("nophone@example.com", "pw-123456"))
    token, cid = who["token"]["accessToken"], who["customer"]["id"]
    gql(kibo_gateway, REQUEST_PHONE, {"id": cid, "p": "+14155550166"}, token=token)
    done = gql(kibo_gateway, CONFIRM_PHONE, {"id": cid, "c": last_code(kibo_gateway)}, token=token)[
        "data"
    ]["confirmPhoneNumberChange"]
    assert done["customer"]["phoneNumber"] == "+14155550166"
    assert kibo.journal.count("POST", "/contacts") == 1


def test_a_resend_replaces_the_code(kibo_gateway: TestClient) -> None:
    ada = sign_in(kibo_gateway)
    token, cid = ada["token"]["accessToken"], ada["customer"]["id"]
    gql(kibo_gateway, REQUEST_EMAIL, {"id": cid, "e": "ada@example.org"}, token=token)
    first = last_code(kibo_gateway)
    gql(kibo_gateway, REQUEST_EMAIL, {"id": cid, "e": "ada@example.org"}, token=token)
    second = last_code(kibo_gateway)
    if first != second:
        stale = gql(kibo_gateway, CONFIRM_EMAIL, {"id": cid, "c": first}, token=token)["data"][
            "confirmEmailChange"
        ]
        assert [e["code"] for e in stale["userErrors"]] == ["OTP_INVALID"]
    ok = gql(kibo_gateway, CONFIRM_EMAIL, {"id": cid, "c": second}, token=token)["data"][
        "confirmEmailChange"
    ]
    assert ok["userErrors"] == []


def test_a_code_confirms_only_its_own_change(kibo_gateway: TestClient) -> None:
    ada = sign_in(kibo_gateway)
    token, cid = ada["token"]["accessToken"], ada["customer"]["id"]
    gql(kibo_gateway, REQUEST_EMAIL, {"id": cid, "e": "ada@example.org"}, token=token)
    email_code = last_code(kibo_gateway)
    gql(kibo_gateway, REQUEST_PHONE, {"id": cid, "p": "+14155550177"}, token=token)
    phone_code = last_code(kibo_gateway)
    if email_code != phone_code:
        crossed = gql(kibo_gateway, CONFIRM_PHONE, {"id": cid, "c": email_code}, token=token)[
            "data"
        ]["confirmPhoneNumberChange"]
        assert [e["code"] for e in crossed["userErrors"]] == ["OTP_INVALID"]


def test_codes_expire_after_ten_minutes(
    make_gateway: GatewayFactory, sandboxes: Sandboxes, kibo: KiboSandbox
) -> None:
    clock = ManualClock()
    gateway = make_gateway(kibo_backend("kibo", sandboxes.url("kibo")), clock=clock)
    ada = sign_in(gateway)
    token, cid = ada["token"]["accessToken"], ada["customer"]["id"]
    gql(gateway, REQUEST_EMAIL, {"id": cid, "e": "ada@example.org"}, token=token)
    clock.advance(599)
    assert (
        gql(gateway, '{ me(backend: "kibo") { pendingEmailChange } }', token=token)["data"]["me"][
            "pendingEmailChange"
        ]
        is True
    )
    ok = gql(gateway, CONFIRM_EMAIL, {"id": cid, "c": last_code(gateway)}, token=token)["data"][
        "confirmEmailChange"
    ]
    assert ok["userErrors"] == []
    gql(gateway, REQUEST_EMAIL, {"id": cid, "e": "ada@example.net"}, token=token)
    clock.advance(601)
    assert (
        gql(gateway, '{ me(backend: "kibo") { pendingEmailChange } }', token=token)["data"]["me"][
            "pendingEmailChange"
        ]
        is False
    )
    late = gql(gateway, CONFIRM_EMAIL, {"id": cid, "c": last_code(gateway)}, token=token)["data"][
        "confirmEmailChange"
    ]
    assert [e["code"] for e in late["userErrors"]] == ["OTP_EXPIRED"]
    assert kibo.journal.count("PUT") == 1


def test_requests_are_rate_limited_per_customer(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    clock = ManualClock()
    gateway = make_gateway(kibo_backend("kibo", sandboxes.url("kibo")), clock=clock)
    ada = sign_in(gateway)
    token, cid = ada["token"]["accessToken"], ada["customer"]["id"]
    for _ in range(3):
        assert (
            gql(gateway, REQUEST_EMAIL, {"id": cid, "e": "ada@example.org"}, token=token)["data"][
                "requestEmailChange"
            ]["pending"]
            is True
        )
    sent = len(codes(gateway).messages)
    limited = gql(gateway, REQUEST_EMAIL, {"id": cid, "e": "ada@example.org"}, token=token)
    assert error_codes(limited) == ["RATE_LIMITED"]
    assert 0 < limited["errors"][0]["extensions"]["retryAfter"] <= 900
    assert len(codes(gateway).messages) == sent
    clock.advance(901)
    assert (
        gql(gateway, REQUEST_EMAIL, {"id": cid, "e": "ada@example.org"}, token=token)["data"][
            "requestEmailChange"
        ]["pending"]
        is True
    )


def test_twenty_concurrent_right_codes_make_one_write(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes, kibo: KiboSandbox
) -> None:
    gateway = make_live_gateway(kibo_backend("kibo", sandboxes.url("kibo")))
    ada = sign_in(gateway.client)  # type: ignore[arg-type]
    token, cid = ada["token"]["accessToken"], ada["customer"]["id"]
    gql(gateway.client, REQUEST_EMAIL, {"id": cid, "e": "ada@example.org"}, token=token)
    code = codes_of(gateway.app).messages[-1].code
    kibo.faults.add("delay", "/accounts/", method="PUT", delay_s=0.2)
    with concurrent.futures.ThreadPoolExecutor(20) as pool:

        def confirm(_: int) -> dict[str, Any]:
            response = httpx.post(
                f"{gateway.url}/graphql",
                json={"query": CONFIRM_WITH_RETRY, "variables": {"id": cid, "c": code}},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            return response.json()["data"]["confirmEmailChange"]  # type: ignore[no-any-return]

        results = list(pool.map(confirm, range(20)))
    # One write; every other confirm either saw it landed (the same right code: success) or
    # was told to come back (never NO_PENDING_CHANGE while the change is being applied).
    successes = [r for r in results if not r["userErrors"]]
    assert successes and all(r["customer"]["email"] == "ada@example.org" for r in successes)
    errors = [e for r in results for e in r["userErrors"]]
    assert {e["code"] for e in errors} <= {"CHANGE_IN_PROGRESS"}
    assert all(e["retryAfter"] >= 1 for e in errors)
    assert kibo.journal.count("PUT") == 1


def test_an_ambiguous_write_is_reconciled_not_repeated(
    kibo_gateway: TestClient, kibo: KiboSandbox
) -> None:
    ada = sign_in(kibo_gateway)
    token, cid, native = (
        ada["token"]["accessToken"],
        ada["customer"]["id"],
        int(ada["customer"]["nativeId"]),
    )
    gql(kibo_gateway, REQUEST_EMAIL, {"id": cid, "e": "ada@example.org"}, token=token)
    code = last_code(kibo_gateway)
    kibo.faults.add("apply_then_drop", f"/accounts/{native}", method="PUT")
    first = gql(kibo_gateway, CONFIRM_EMAIL, {"id": cid, "c": code}, token=token)
    assert error_codes(first) == ["BACKEND_UNAVAILABLE"]
    assert kibo.account(native)["emailAddress"] == "ada@example.org"  # it did land
    second = gql(kibo_gateway, CONFIRM_EMAIL, {"id": cid, "c": code}, token=token)["data"][
        "confirmEmailChange"
    ]
    assert second["customer"]["email"] == "ada@example.org" and second["userErrors"] == []
    assert kibo.journal.count("PUT") == 1  # read back, not written twice
    # The same code once more: the change is done, so the same answer, and still one write.
    third = gql(kibo_gateway, CONFIRM_EMAIL, {"id": cid, "c": code}, token=token)["data"][
        "confirmEmailChange"
    ]
    assert third == second and kibo.journal.count("PUT") == 1
    other = gql(kibo_gateway, CONFIRM_EMAIL, {"id": cid, "c": wrong(code)}, token=token)
    assert [e["code"] for e in other["data"]["confirmEmailChange"]["userErrors"]] == [
        "NO_PENDING_CHANGE"
    ]


def test_a_refused_write_reports_the_backend_reason(
    kibo_gateway: TestClient, kibo: KiboSandbox
) -> None:
    """The address was free when the code was sent, and another shopper took it before the
    confirm: Kibo refuses the write (409), and the customer hears why."""
    ada = sign_in(kibo_gateway)
    token, cid = ada["token"]["accessToken"], ada["customer"]["id"]
    gql(kibo_gateway, REQUEST_EMAIL, {"id": cid, "e": "contested@example.org"}, token=token)
    kibo.add_customer(email="contested@example.org", password="contested-pass-1")
    taken = gql(
        kibo_gateway, CONFIRM_EMAIL, {"id": cid, "c": last_code(kibo_gateway)}, token=token
    )["data"]["confirmEmailChange"]
    assert [(e["field"], e["code"]) for e in taken["userErrors"]] == [(["email"], "TAKEN")]
    assert kibo.account(int(ada["customer"]["nativeId"]))["emailAddress"] == ADA[0]


def test_the_store_never_holds_a_code(kibo_gateway: TestClient) -> None:
    ada = sign_in(kibo_gateway)
    gql(
        kibo_gateway,
        REQUEST_EMAIL,
        {"id": ada["customer"]["id"], "e": "ada@example.org"},
        token=ada["token"]["accessToken"],
    )
    code = last_code(kibo_gateway)
    store = kibo_gateway.app.state.services.changes.store  # type: ignore[attr-defined]
    dumped = repr(store.__dict__)
    assert code not in dumped and "ada@example.org" in dumped


def test_kibo_without_loyalty_link_has_null_loyalty(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    gateway = make_gateway(
        kibo_backend("kibo", sandboxes.url("kibo"))
        + loyalty_backend("loyalty", sandboxes.url("loyalty"))
    )
    customer = sign_in(gateway)["customer"]
    assert customer["loyalty"] is None and customer["level"] is None
