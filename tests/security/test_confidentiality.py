"""P9-P15: identity, authorization and confidentiality (RELIABILITY.md section 4.B)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from conftest import (
    ADMIN_KEY,
    GatewayFactory,
    Sandboxes,
    kibo_backend,
    loyalty_backend,
    menu_backend,
)
from customer_gateway.domain import encode_customer_id
from support.graphql import error_codes, gql
from support.live import LiveServer

KIBO_USERS = [
    ("ada.lovelace@example.com", "kibo-demo-pass"),
    ("katherine.johnson@example.com", "kibo-demo-pass-2"),
]


def kibo_sign_in(gateway: TestClient, who: tuple[str, str]) -> tuple[str, str, str]:
    signed = gql(
        gateway,
        'mutation($u: String!, $p: String!) { signIn(backend: "kibo", username: $u, password: $p) { token { accessToken } customer { id nativeId } } }',
        {"u": who[0], "p": who[1]},
    )["data"]["signIn"]
    return signed["token"]["accessToken"], signed["customer"]["id"], signed["customer"]["nativeId"]


# --- P9 a customer token only reaches its own customer -----------------------------------------


def test_p9_every_pair_of_customers_is_isolated(
    kibo_gateway: TestClient, sandboxes: Sandboxes
) -> None:
    sandboxes.kibo.add_customer(email="third@example.com", password="third-pass-123")
    people = [
        kibo_sign_in(kibo_gateway, who)
        for who in [*KIBO_USERS, ("third@example.com", "third-pass-123")]
    ]
    missing = encode_customer_id("kibo", "999999")
    for (token, _, _), (_, other_id, other_native) in itertools.permutations(people, 2):
        sandboxes.kibo.journal.clear()
        attempts = {
            "read": gql(
                kibo_gateway,
                "query($id: ID!) { customer(id: $id) { email } }",
                {"id": other_id},
                token=token,
            ),
            "update": gql(
                kibo_gateway,
                'mutation($id: ID!) { updateCustomer(id: $id, input: {firstName: "X"}) { userErrors { code } } }',
                {"id": other_id},
                token=token,
            ),
            "change": gql(
                kibo_gateway,
                'mutation($id: ID!) { requestEmailChange(id: $id, email: "x@example.org") { pending } }',
                {"id": other_id},
                token=token,
            ),
            "entity": gql(
                kibo_gateway,
                "query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { email } } }",
                {"r": [{"__typename": "Customer", "id": other_id}]},
                token=token,
            ),
            "nonexistent": gql(
                kibo_gateway,
                "query($id: ID!) { customer(id: $id) { email } }",
                {"id": missing},
                token=token,
            ),
        }
        for name, body in attempts.items():
            assert error_codes(body) == ["FORBIDDEN"], (
                name,
                body,
            )  # the same answer as for an id that does not exist
        assert all(other_native not in e.path for e in sandboxes.kibo.journal.entries)
        assert sandboxes.kibo.journal.count("PUT") == 0


# --- P10 admin key ---------------------------------------------------------------------------


def test_p10_a_customer_token_is_not_an_admin_key(kibo_gateway: TestClient) -> None:
    token, _, _ = kibo_sign_in(kibo_gateway, KIBO_USERS[0])
    for key in (token, f"Bearer {token}", ADMIN_KEY.upper(), " " + ADMIN_KEY):
        body = gql(
            kibo_gateway,
            '{ customers(backend: "kibo") { totalCount } }',
            admin_key=key,
            token=token,
        )
        assert error_codes(body) == ["FORBIDDEN"]
    assert ADMIN_KEY not in str(
        gql(
            kibo_gateway,
            '{ customers(backend: "kibo") { totalCount } }',
            admin_key="wrong-key-0123456789",
        )
    )


def test_p10_admin_keys_are_compared_in_constant_time() -> None:
    import inspect

    from customer_gateway.services import auth

    source = inspect.getsource(auth.admin_key_matches)
    assert "hmac.compare_digest" in source and "==" not in source
    assert auth.admin_key_matches(ADMIN_KEY, ["other-key-0123456789", ADMIN_KEY])
    assert not auth.admin_key_matches(ADMIN_KEY[:-1], [ADMIN_KEY])
    assert not auth.admin_key_matches(None, [ADMIN_KEY])


# --- P11 header propagation is an allowlist --------------------------------------------------

ALLOWED = {
    "menu": {
        "host",
        "accept",
        "accept-encoding",
        "connection",
        "user-agent",
        "content-type",
        "content-length",
        "api-version",
        "application",
        "x-qb-enabled",
        "x-request-id",
        "authorization",
    },
    "loyalty": {
        "host",
        "accept",
        "accept-encoding",
        "connection",
        "user-agent",
        "content-type",
        "content-length",
        "x-request-id",
        "authorization",
    },
}


def test_p11_each_backend_receives_exactly_its_headers(
    linked_gateway: TestClient, sandboxes: Sandboxes
) -> None:
    token = gql(
        linked_gateway,
        'mutation { signIn(backend: "menu", username: "ada.lovelace@example.com", password: "menu-demo-pass") { token { accessToken } } }',
    )["data"]["signIn"]["token"]["accessToken"]
    sandboxes.menu.journal.clear()
    sandboxes.loyalty.journal.clear()
    hostile = {
        "Authorization": f"Bearer {token}",
        "X-Api-Key": ADMIN_KEY,
        "Cookie": "session=stolen",
        "Te": "trailers",
        "X-Forwarded-For": "198.51.100.9",
        "X-Foo": "bar",
    }
    response = linked_gateway.post(
        "/graphql",
        json={"query": '{ me(backend: "menu") { email loyalty { points } } }'},
        headers=hostile,
    )
    assert response.json()["data"]["me"]["loyalty"]["points"] == 1720
    for name, sandbox in (("menu", sandboxes.menu), ("loyalty", sandboxes.loyalty)):
        assert sandbox.journal.entries
        for entry in sandbox.journal.entries:
            assert set(entry.headers) <= ALLOWED[name], (name, set(entry.headers) - ALLOWED[name])
            assert "x-api-key" not in entry.headers and "cookie" not in entry.headers
    assert all(
        e.headers["authorization"] == f"Bearer {token}" for e in sandboxes.menu.journal.entries
    )
    assert all(
        token not in e.headers.get("authorization", "") for e in sandboxes.loyalty.journal.entries
    )
    menu_ids = {e.request_id for e in sandboxes.menu.journal.entries} | {
        e.request_id for e in sandboxes.loyalty.journal.entries
    }
    assert len(menu_ids) == len(sandboxes.menu.journal.entries) + len(
        sandboxes.loyalty.journal.entries
    )


# --- P12 loyalty only after the commerce backend confirmed the token --------------------------


@pytest.mark.parametrize(
    ("fault", "options", "code"),
    [
        ("status", {"status": 500}, "BACKEND_UNAVAILABLE"),
        ("malformed", {}, "BACKEND_ERROR"),
        ("status", {"status": 401}, "UNAUTHENTICATED"),
        ("html", {}, "BACKEND_ERROR"),
    ],
)
def test_p12_no_loyalty_call_unless_the_commerce_backend_answered(
    linked_gateway: TestClient, sandboxes: Sandboxes, fault: str, options: dict[str, Any], code: str
) -> None:
    token = gql(
        linked_gateway,
        'mutation { signIn(backend: "menu", username: "ada.lovelace@example.com", password: "menu-demo-pass") { token { accessToken } } }',
    )["data"]["signIn"]["token"]["accessToken"]
    sandboxes.loyalty.journal.clear()
    sandboxes.menu.faults.add(fault, "/customers/me", times=3, **options)
    body = gql(linked_gateway, '{ me(backend: "menu") { email loyalty { points } } }', token=token)
    assert error_codes(body) == [code] and body["data"] is None
    assert sandboxes.loyalty.journal.count() == 0


# --- P13 no redirects, no ambient proxies -------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.hits: list[str] = []
        self.app = Starlette(
            routes=[Route("/{path:path}", self.hit, methods=["GET", "POST", "PUT", "CONNECT"])]
        )

    async def hit(self, request: Request) -> JSONResponse:
        self.hits.append(str(request.url))
        return JSONResponse({"status": "OK", "code": 200, "data": {}})


def test_p13_credentials_never_follow_a_redirect(make_gateway: GatewayFactory) -> None:
    target = Recorder()
    with LiveServer(target.app, lifespan="off") as second:
        redirector = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    lambda r: RedirectResponse(f"{second.url}/steal", 302),
                    methods=["GET", "POST"],
                )
            ]
        )
        with LiveServer(redirector, lifespan="off") as first:
            gateway = make_gateway(menu_backend("menu", f"{first.url}/api"))
            body = gql(
                gateway, '{ me(backend: "menu") { email } }', token="a-token-that-must-not-travel"
            )
    assert error_codes(body) == ["BACKEND_ERROR"]
    assert target.hits == []


def test_p13_proxy_settings_in_the_environment_are_ignored(
    make_gateway: GatewayFactory, sandboxes: Sandboxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = Recorder()
    with LiveServer(proxy.app, lifespan="off") as server:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, server.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        gateway = make_gateway(menu_backend("menu", sandboxes.url("menu")))
        body = gql(
            gateway,
            'mutation { signIn(backend: "menu", username: "ada.lovelace@example.com", password: "menu-demo-pass") { userErrors { code } } }',
        )
    assert body["data"]["signIn"]["userErrors"] == []
    assert proxy.hits == []


# --- P15 messages come from a closed set --------------------------------------------------


DOCUMENTED_MESSAGES = {
    "A valid bearer token for this backend is required.",
    "Not allowed.",
    "This operation needs the admin key.",
    "Not found.",
    "Unknown backend.",
    "Not a customer id.",
    "This backend does not support the operation.",
    "The backend is unavailable.",
    "The backend did not answer in time.",
    "The backend gave an unexpected answer.",
    "Unexpected error.",
}


def test_p15_error_messages_from_upstream_trouble_are_fixed_texts(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    gateway = make_gateway(
        kibo_backend("kibo", sandboxes.url("kibo"), extra="max_attempts = 1")
        + loyalty_backend("loyalty", sandboxes.url("loyalty"))
    )
    token, cid, _ = kibo_sign_in(gateway, KIBO_USERS[0])
    seen: set[str] = set()
    for fault, options in [
        ("status", {"status": 500}),
        ("malformed", {}),
        ("html", {}),
        ("status", {"status": 404}),
        ("status", {"status": 403}),
        ("drop", {}),
    ]:
        sandboxes.kibo.faults.add(fault, "accounts/current", **options)
        body = gql(gateway, '{ me(backend: "kibo") { email } }', token=token)
        seen |= {e["message"] for e in body["errors"]}
    body = gql(
        gateway, "query($id: ID!) { customer(id: $id) { email } }", {"id": "garbage"}, token=token
    )
    seen |= {e["message"] for e in body["errors"]}
    assert seen <= DOCUMENTED_MESSAGES, seen - DOCUMENTED_MESSAGES
    assert cid
