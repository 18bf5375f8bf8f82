"""Trust rule: loyalty linking matches on the credential the commerce backend verifies.

A Menu phone-auth brand verifies phone numbers and lets email change without a code; an
email-auth brand the other way round. Typing another member's address (or number) into the
credential that changes freely must not show that member's points and level.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from starlette.testclient import TestClient

from conftest import GatewayFactory, Sandboxes, loyalty_backend, menu_backend
from customer_gateway.sandbox.journal import JournalEntry
from support.graphql import gql

SIGN_IN = "mutation($b: String!, $u: String!, $p: String!) { signIn(backend: $b, username: $u, password: $p) { token { accessToken } customer { id } userErrors { code } } }"
ME = "query($b: String!) { me(backend: $b) { email phoneNumber level { name } loyalty { points level { name } transactionsCount } } }"
CHANGE_EMAIL = "mutation($id: ID!, $v: String!) { requestEmailChange(id: $id, email: $v) { pending customer { email } userErrors { code } } }"
CHANGE_PHONE = "mutation($id: ID!, $v: String!) { requestPhoneNumberChange(id: $id, phoneNumber: $v) { pending customer { phoneNumber } userErrors { code } } }"

BARBARA = ("barbara.liskov@example.com", "+14155550106")  # 5,100 points, Platinum


@pytest.fixture
def brands(make_gateway: GatewayFactory, sandboxes: Sandboxes) -> TestClient:
    """An email-auth and a phone-auth Menu brand, both linked to one Open Loyalty."""
    linked = 'loyalty = "loyalty"'
    return make_gateway(
        menu_backend("menu", sandboxes.url("menu"), extra=linked)
        + menu_backend("menu_phone", sandboxes.url("menu-phone"), auth_type="phone", extra=linked)
        + loyalty_backend("loyalty", sandboxes.url("loyalty"))
    )


def sign_in(gateway: TestClient, backend: str, username: str, password: str) -> tuple[str, str]:
    data = gql(gateway, SIGN_IN, {"b": backend, "u": username, "p": password})["data"]["signIn"]
    assert data["userErrors"] == []
    return data["token"]["accessToken"], data["customer"]["id"]


def lookups(sandboxes: Sandboxes) -> list[JournalEntry]:
    """Open Loyalty's admin list calls: how the gateway looked for a loyalty account."""
    return [
        e for e in sandboxes.loyalty.journal.matching("GET") if e.path.endswith("/admin/customer")
    ]


def me(gateway: TestClient, backend: str, token: str) -> dict[str, object]:
    body = gql(gateway, ME, {"b": backend}, token=token)
    assert "errors" not in body, body
    result: dict[str, object] = body["data"]["me"]
    return result


def test_an_unverified_email_shows_no_other_members_loyalty(
    brands: TestClient, sandboxes: Sandboxes
) -> None:
    """Phone-auth brand: email changes need no code, so email links nothing."""
    token, customer_id = sign_in(brands, "menu_phone", "+14155550102", "menu-demo-pass-2")
    changed = gql(brands, CHANGE_EMAIL, {"id": customer_id, "v": BARBARA[0]}, token=token)
    assert changed["data"]["requestEmailChange"] == {
        "pending": False,
        "customer": {"email": BARBARA[0]},
        "userErrors": [],
    }
    sandboxes.loyalty.journal.clear()
    shown = me(brands, "menu_phone", token)
    assert shown["email"] == BARBARA[0]
    assert shown["loyalty"] is None and shown["level"] is None
    assert [parse_qs(e.query).keys() - {"strict", "perPage"} for e in lookups(sandboxes)] == [
        {"phone"}
    ]


def test_a_phone_auth_customer_is_linked_by_phone_number(
    brands: TestClient, sandboxes: Sandboxes
) -> None:
    token, _ = sign_in(brands, "menu_phone", "+14155550101", "menu-demo-pass")
    sandboxes.loyalty.journal.clear()
    shown = me(brands, "menu_phone", token)
    assert shown["loyalty"] == {
        "points": 1720.0,
        "level": {"name": "Gold"},
        "transactionsCount": shown["loyalty"]["transactionsCount"],  # type: ignore[index]
    }
    (lookup,) = lookups(sandboxes)
    query = parse_qs(lookup.query)
    assert query["phone"] == ["+14155550101"] and query["strict"] == ["1"]
    assert "email" not in query


def test_an_unverified_phone_number_shows_no_other_members_loyalty(
    brands: TestClient, sandboxes: Sandboxes
) -> None:
    """Email-auth brand: phone numbers change without a code, so they link nothing."""
    token, customer_id = sign_in(brands, "menu", "grace.hopper@example.com", "menu-demo-pass-2")
    changed = gql(brands, CHANGE_PHONE, {"id": customer_id, "v": BARBARA[1]}, token=token)
    assert changed["data"]["requestPhoneNumberChange"]["pending"] is False
    shown = me(brands, "menu", token)
    assert shown["phoneNumber"] == BARBARA[1]
    assert shown["loyalty"] is None and shown["level"] is None


def test_an_email_auth_customer_is_still_linked_by_email(
    brands: TestClient, sandboxes: Sandboxes
) -> None:
    token, _ = sign_in(brands, "menu", "ada.lovelace@example.com", "menu-demo-pass")
    shown = me(brands, "menu", token)
    assert shown["loyalty"]["points"] == 1720.0  # type: ignore[index]
