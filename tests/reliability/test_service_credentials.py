"""The gateway's own credentials revoked (a vendor restart): never a customer's failure.

A 401 caused by Kibo's application token or Open Loyalty's admin token renews it at once (one
login however many requests met it) and repeats the call once, whatever the token's age.
"""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any

import httpx

from conftest import (
    ADMIN_KEY,
    LiveGatewayFactory,
    Sandboxes,
    kibo_backend,
    loyalty_backend,
    menu_backend,
)
from support.graphql import gql
from support.live import LiveServer, Swappable

KIBO_SIGN_IN = 'mutation($p: String!) { signIn(backend: "kibo", username: "ada.lovelace@example.com", password: $p) { customer { email } userErrors { code } } }'
OAUTH = "authtickets/oauth"


def restart(upstream: tuple[LiveServer, Swappable]) -> Sandboxes:
    """Fresh emulators on the same server and paths: every token they issued is gone."""
    return Sandboxes(*upstream)


def test_a_revoked_app_token_is_renewed_at_once_for_every_caller(
    make_live_gateway: LiveGatewayFactory,
    sandboxes: Sandboxes,
    upstream: tuple[LiveServer, Swappable],
) -> None:
    gateway = make_live_gateway(kibo_backend("kibo", sandboxes.url("kibo")))
    signed = gql(gateway.client, KIBO_SIGN_IN, {"p": "kibo-demo-pass"})["data"]["signIn"]
    assert signed["userErrors"] == []  # the app token is a few milliseconds old
    kibo = restart(upstream).kibo

    def sign_in(_: int) -> dict[str, Any]:
        response = httpx.post(
            f"{gateway.url}/graphql",
            json={"query": KIBO_SIGN_IN, "variables": {"p": "kibo-demo-pass"}},
            timeout=15,
        )
        return response.json()["data"]["signIn"]  # type: ignore[no-any-return]

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(sign_in, range(10)))
    assert results == [{"customer": {"email": "ada.lovelace@example.com"}, "userErrors": []}] * 10
    assert kibo.journal.count("POST", OAUTH) == 1  # one login for all of them


def test_wrong_passwords_do_not_make_the_gateway_log_in_per_request(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes
) -> None:
    gateway = make_live_gateway(kibo_backend("kibo", sandboxes.url("kibo")))
    kibo = sandboxes.kibo
    started = time.monotonic()
    for _ in range(30):
        wrong = gql(gateway.client, KIBO_SIGN_IN, {"p": "not-the-password"})["data"]["signIn"]
        assert wrong == {"customer": None, "userErrors": [{"code": "INVALID_CREDENTIALS"}]}
    seconds = time.monotonic() - started
    # The first login, then at most one renewal per second of wrong passwords (the hold-off).
    assert kibo.journal.count("POST", OAUTH) <= 2 + int(seconds)


def test_a_revoked_admin_token_is_renewed_and_the_call_repeated(
    make_live_gateway: LiveGatewayFactory,
    sandboxes: Sandboxes,
    upstream: tuple[LiveServer, Swappable],
) -> None:
    gateway = make_live_gateway(
        menu_backend("menu", sandboxes.url("menu"), extra='loyalty = "loyalty"')
        + loyalty_backend("loyalty", sandboxes.url("loyalty"))
    )
    admin = '{ customers(backend: "loyalty", first: 1, filter: { lastName: "Lovelace" }) { edges { node { email } } } }'
    first = gql(gateway.client, admin, admin_key=ADMIN_KEY)
    assert first["data"]["customers"]["edges"] == [{"node": {"email": "ada.lovelace@example.com"}}]
    loyalty = restart(upstream).loyalty
    again = gql(gateway.client, admin, admin_key=ADMIN_KEY)
    assert again == first
    assert loyalty.journal.count("POST", "admin/login_check") == 1
    # Loyalty linking reads with the admin token too: a customer sees their points.
    token = gql(
        gateway.client,
        'mutation { signIn(backend: "menu", username: "ada.lovelace@example.com", password: "menu-demo-pass") { token { accessToken } } }',
    )["data"]["signIn"]["token"]["accessToken"]
    linked = gql(gateway.client, '{ me(backend: "menu") { loyalty { points } } }', token=token)
    assert linked == {"data": {"me": {"loyalty": {"points": 1720.0}}}}
