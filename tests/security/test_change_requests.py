"""Change requests are no oracle and no way to send codes to strangers, and changes that need no
code are rate-limited like those that do."""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import GatewayFactory, Sandboxes, kibo_backend, loyalty_backend, menu_backend
from customer_gateway.otp.notify import OutboxNotifier
from support.graphql import gql
from support.live import LiveServer
from support.webhook import Receiver

SIGN_IN = "mutation($b: String!, $u: String!, $p: String!) { signIn(backend: $b, username: $u, password: $p) { token { accessToken } customer { id } } }"
REQUEST_EMAIL = "mutation($id: ID!, $v: String!) { requestEmailChange(id: $id, email: $v) { pending expiresAt customer { email pendingEmailChange } userErrors { field message code } } }"
CONFIRM_EMAIL = "mutation($id: ID!, $c: String!) { confirmEmailChange(id: $id, code: $c) { customer { email } userErrors { code } } }"
REQUEST_PHONE = "mutation($id: ID!, $v: String!) { requestPhoneNumberChange(id: $id, phoneNumber: $v) { pending customer { phoneNumber } userErrors { code } } }"


@pytest.fixture
def gateway(make_gateway: GatewayFactory, sandboxes: Sandboxes) -> TestClient:
    return make_gateway(
        menu_backend("menu", sandboxes.url("menu"))
        + kibo_backend("kibo", sandboxes.url("kibo"))
        + loyalty_backend("loyalty", sandboxes.url("loyalty"))
    )


def sign_in(gateway: TestClient, backend: str, username: str, password: str) -> tuple[str, str]:
    data = gql(gateway, SIGN_IN, {"b": backend, "u": username, "p": password})["data"]["signIn"]
    return data["token"]["accessToken"], data["customer"]["id"]


def outbox(gateway: TestClient) -> OutboxNotifier:
    notifier = gateway.app.state.services.changes.notifier  # type: ignore[attr-defined]
    assert isinstance(notifier, OutboxNotifier)
    return notifier


def shape(payload: dict[str, Any]) -> dict[str, Any]:
    """What a client could tell two answers apart by: keys, types, and which are set."""
    return {
        key: shape(value) if isinstance(value, dict) else (type(value).__name__, value is None)
        for key, value in payload.items()
        if key != "customer"
    }


@pytest.mark.parametrize(
    ("backend", "password", "taken"),
    [
        ("kibo", "kibo-demo-pass", "katherine.johnson@example.com"),
        ("loyalty", "loyalty-demo-pass", "barbara.liskov@example.com"),
    ],
)
def test_no_code_goes_to_an_address_another_account_holds(
    gateway: TestClient, backend: str, password: str, taken: str
) -> None:
    token, customer_id = sign_in(gateway, backend, "ada.lovelace@example.com", password)
    asked = gql(gateway, REQUEST_EMAIL, {"id": customer_id, "v": taken}, token=token)
    answer = asked["data"]["requestEmailChange"]
    assert [m for m in outbox(gateway).messages if m.to == taken] == []
    free = gql(gateway, REQUEST_EMAIL, {"id": customer_id, "v": "ada.new@example.org"}, token=token)
    free_answer = free["data"]["requestEmailChange"]
    assert [m.to for m in outbox(gateway).messages] == ["ada.new@example.org"]
    # The same answer either way: the request tells nobody whether an address has an account.
    assert shape(answer) == shape(free_answer)
    assert answer["pending"] is True and answer["userErrors"] == []
    assert answer["customer"]["pendingEmailChange"] is True


def test_a_change_to_a_taken_address_cannot_be_confirmed(gateway: TestClient) -> None:
    token, customer_id = sign_in(gateway, "kibo", "ada.lovelace@example.com", "kibo-demo-pass")
    taken = "katherine.johnson@example.com"
    gql(gateway, REQUEST_EMAIL, {"id": customer_id, "v": taken}, token=token)
    for guess in ("000000", "123456"):
        body = gql(gateway, CONFIRM_EMAIL, {"id": customer_id, "c": guess}, token=token)
        assert body["data"]["confirmEmailChange"]["userErrors"] == [{"code": "OTP_INVALID"}]


def test_changes_without_a_code_count_against_the_change_limit(
    gateway: TestClient, sandboxes: Sandboxes
) -> None:
    """An email-auth Menu brand changes phone numbers directly: no code, but no free rein."""
    token, customer_id = sign_in(gateway, "menu", "ada.lovelace@example.com", "menu-demo-pass")
    answers = [
        gql(gateway, REQUEST_PHONE, {"id": customer_id, "v": f"+1415555020{i}"}, token=token)
        for i in range(4)
    ]
    assert [a["data"]["requestPhoneNumberChange"]["pending"] for a in answers[:3]] == [False] * 3
    refused = answers[3]
    assert refused["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert refused["errors"][0]["extensions"]["retryAfter"] > 0
    writes = sandboxes.menu.journal.matching("PUT", "/customer-accounts/")
    assert len(writes) == 3


def test_one_client_address_gets_at_most_twenty_codes_an_hour(
    gateway: TestClient, sandboxes: Sandboxes
) -> None:
    """Across many customers (each under its own limit of three), from one address."""
    from conftest import ADMIN_KEY
    from customer_gateway.domain import encode_customer_id

    answers = [
        gql(
            gateway,
            REQUEST_EMAIL,
            {"id": encode_customer_id("kibo", str(1001 + i)), "v": f"fresh{i}@example.org"},
            admin_key=ADMIN_KEY,
        )
        for i in range(21)
    ]
    assert all(a["data"]["requestEmailChange"]["pending"] for a in answers[:20])
    assert answers[20]["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert len(outbox(gateway).messages) == 20


def test_a_taken_address_answers_as_slowly_as_a_free_one(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    """Sending a code takes the notifier's time (here 0.3 s); not sending one took 5 ms, so
    the answer's timing told which addresses have an account."""
    hook = Receiver(delay_s=0.3)
    with LiveServer(hook.app) as server:
        otp = (
            f'[otp]\nnotifier = "webhook"\nwebhook_url = "{server.url}/otp"\n'
            'secret = "webhook-signing-secret-0123456789"\n'
        )
        gateway = make_gateway(kibo_backend("kibo", sandboxes.url("kibo")), extra=otp)
        token, customer_id = sign_in(gateway, "kibo", "ada.lovelace@example.com", "kibo-demo-pass")
        started = time.monotonic()
        gql(gateway, REQUEST_EMAIL, {"id": customer_id, "v": "free@example.org"}, token=token)
        free = time.monotonic() - started
        started = time.monotonic()
        gql(
            gateway,
            REQUEST_EMAIL,
            {"id": customer_id, "v": "katherine.johnson@example.com"},
            token=token,
        )
        taken = time.monotonic() - started
    assert len(hook.requests) == 1  # the held address got nothing
    assert free >= 0.3 and taken >= 0.8 * 0.3  # a wait never ends early, however busy
