"""The gateway end to end on Menu: what only Menu does, over HTTP against the Menu sandbox.

What every connector kind does alike (sign-in, refresh, `me`, updates, each change flow,
refusals, upstream failures, hostile ids) is the connector contract, in tests/contract.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from customer_gateway.domain import encode_customer_id
from customer_gateway.sandbox.menu import MenuSandbox
from customer_gateway.testing.documents import REFRESH
from support.graphql import error_codes, gql

ADA = ("ada.lovelace@example.com", "menu-demo-pass")
GRACE = ("grace.hopper@example.com", "menu-demo-pass-2")

SIGN_IN = """
mutation SignIn($backend: String!, $username: String!, $password: String!) {
  signIn(backend: $backend, username: $username, password: $password) {
    token { accessToken refreshToken tokenType expiresAt refreshExpiresAt }
    customer { id nativeId email firstName phoneNumber backend { name kind } }
    userErrors { field message code }
  }
}"""
ME = "query Me($b: String!) { me(backend: $b) { id nativeId email phoneNumber firstName lastName pendingEmailChange pendingPhoneNumberChange } }"
REQUEST_EMAIL = """
mutation R($id: ID!, $email: String!) {
  requestEmailChange(id: $id, email: $email) {
    pending expiresAt customer { email pendingEmailChange } userErrors { field message code }
  }
}"""
UPDATE = """
mutation U($id: ID!, $input: UpdateCustomerInput!) {
  updateCustomer(id: $id, input: $input) {
    customer { firstName lastName marketingOptIn } userErrors { field message code }
  }
}"""


def sign_in(
    gateway: TestClient, who: tuple[str, str] = ADA, backend: str = "menu"
) -> dict[str, Any]:
    body = gql(gateway, SIGN_IN, {"backend": backend, "username": who[0], "password": who[1]})
    payload: dict[str, Any] = body["data"]["signIn"]
    assert payload["userErrors"] == [], payload
    return payload


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


# --- sign-in and tokens -------------------------------------------------------------------


def test_sign_in_returns_token_and_customer(gateway: TestClient, menu: MenuSandbox) -> None:
    payload = sign_in(gateway)
    token, customer = payload["token"], payload["customer"]
    stored = next(a for a in (menu.account(c["nativeId"]) for c in [customer]))
    assert customer["email"] == ADA[0] and stored["email"] == ADA[0]
    assert customer["backend"] == {"name": "menu", "kind": "MENU"}
    assert token["tokenType"] == "Bearer"
    assert token["refreshToken"] == token["accessToken"]  # Menu refreshes with the access JWT
    now = datetime.now(UTC)
    # Menu's ttl is in minutes: a login token lives 60 minutes, not 60 seconds.
    assert abs(parse(token["expiresAt"]) - (now + timedelta(minutes=60))) < timedelta(minutes=1)
    assert parse(token["refreshExpiresAt"]) > now + timedelta(days=365)


def test_every_upstream_call_carries_menu_headers_and_a_fresh_request_id(
    gateway: TestClient, menu: MenuSandbox
) -> None:
    payload = sign_in(gateway)
    gql(gateway, ME, {"b": "menu"}, token=payload["token"]["accessToken"])
    entries = menu.journal.entries
    assert len(entries) == 2
    for entry in entries:
        headers = entry.headers
        assert headers["accept"] == "application/json"
        assert headers["content-type"] == "application/json"
        assert headers["api-version"] == "4.38.0"
        assert headers["x-qb-enabled"] == "false"
        assert len(headers["application"]) == 32
        assert uuid.UUID(headers["x-request-id"]).version == 4
    assert entries[0].request_id != entries[1].request_id


def test_the_gateway_returns_the_clients_request_id_or_its_own(gateway: TestClient) -> None:
    mine = gateway.post(
        "/graphql",
        json={"query": "{ backends { name } }"},
        headers={"X-Request-ID": "client-abc-123"},
    )
    assert mine.headers["x-request-id"] == "client-abc-123"
    insane = gateway.post(
        "/graphql",
        json={"query": "{ backends { name } }"},
        headers={"X-Request-ID": "bad id\n<script>"},
    )
    assert uuid.UUID(insane.headers["x-request-id"])


def test_unknown_backend_is_bad_user_input(gateway: TestClient) -> None:
    body = gql(gateway, SIGN_IN, {"backend": "nope", "username": ADA[0], "password": ADA[1]})
    assert error_codes(body) == ["BAD_USER_INPUT"]


def test_refresh_with_the_bearer_token_rotates_it(gateway: TestClient) -> None:
    old = sign_in(gateway)["token"]["accessToken"]
    body = gql(gateway, REFRESH, {"b": "menu"}, token=old)
    payload = body["data"]["refreshToken"]
    assert payload["userErrors"] == [] and payload["customer"]["email"] == ADA[0]
    new = payload["token"]["accessToken"]
    assert new != old
    # Menu's refresh tokens last a day (ttl 1440 minutes).
    expires = parse(payload["token"]["expiresAt"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=1))) < timedelta(minutes=1)
    assert gql(gateway, ME, {"b": "menu"}, token=new)["data"]["me"]["email"] == ADA[0]
    assert error_codes(gql(gateway, ME, {"b": "menu"}, token=old)) == ["UNAUTHENTICATED"]


def test_refresh_with_a_revoked_token_is_invalid_token(gateway: TestClient) -> None:
    old = sign_in(gateway)["token"]["accessToken"]
    gql(gateway, REFRESH, {"b": "menu", "t": old})
    payload = gql(gateway, REFRESH, {"b": "menu", "t": old})["data"]["refreshToken"]
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_TOKEN"]


# --- reading customers ----------------------------------------------------------------------


def test_malformed_customer_id_is_bad_user_input(gateway: TestClient) -> None:
    token = sign_in(gateway)["token"]["accessToken"]
    body = gql(gateway, '{ customer(id: "not-an-id") { email } }', token=token)
    assert error_codes(body) == ["BAD_USER_INPUT"]


def test_an_id_on_an_unknown_backend_is_bad_user_input(gateway: TestClient) -> None:
    token = sign_in(gateway)["token"]["accessToken"]
    body = gql(
        gateway,
        "query($id: ID!) { customer(id: $id) { email } }",
        {"id": encode_customer_id("nope", "1")},
        token=token,
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]


# --- profile updates ------------------------------------------------------------------------


def test_update_changes_only_the_sent_fields(gateway: TestClient, menu: MenuSandbox) -> None:
    ada = sign_in(gateway)
    token, cid = ada["token"]["accessToken"], ada["customer"]["id"]
    body = gql(
        gateway,
        UPDATE,
        {"id": cid, "input": {"firstName": "Augusta", "marketingOptIn": True}},
        token=token,
    )
    payload = body["data"]["updateCustomer"]
    assert payload["userErrors"] == []
    assert payload["customer"] == {
        "firstName": "Augusta",
        "lastName": "Lovelace",
        "marketingOptIn": True,
    }
    stored = menu.account(ada["customer"]["nativeId"])
    assert (stored["first_name"], stored["last_name"], stored["optin_status_email"]) == (
        "Augusta",
        "Lovelace",
        1,
    )
    put = menu.journal.matching("PUT")[0].json()
    assert put == {"first_name": "Augusta", "optin_status_email": 1}


# --- OTP-confirmed changes: email-auth brand ------------------------------------------------


def test_taken_email_is_reported_on_the_email_argument(gateway: TestClient) -> None:
    ada = sign_in(gateway)
    payload = gql(
        gateway,
        REQUEST_EMAIL,
        {"id": ada["customer"]["id"], "email": GRACE[0]},
        token=ada["token"]["accessToken"],
    )["data"]["requestEmailChange"]
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["email"], "TAKEN")]


# --- logs -----------------------------------------------------------------------------------


def test_upstream_calls_are_logged_with_both_request_ids(
    gateway: TestClient, menu: MenuSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="customer_gateway")
    gateway.post(
        "/graphql",
        json={
            "query": SIGN_IN,
            "variables": {"backend": "menu", "username": ADA[0], "password": ADA[1]},
        },
        headers={"X-Request-ID": "client-req-7"},
    )
    calls = [r for r in caplog.records if r.getMessage() == "upstream call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.request_id == "client-req-7"  # type: ignore[attr-defined]
    assert call.upstream_request_id == menu.journal.entries[0].request_id  # type: ignore[attr-defined]
    assert call.backend == "menu" and call.status == 200 and call.path == "/customers/login"  # type: ignore[attr-defined]
    assert ADA[1] not in caplog.text
