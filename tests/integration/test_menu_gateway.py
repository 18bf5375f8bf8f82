"""The gateway end to end on Menu: every operation over HTTP against the Menu sandbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from customer_gateway.domain import encode_customer_id
from customer_gateway.sandbox.menu import MenuSandbox
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
REFRESH = """
mutation Refresh($b: String!, $t: String) {
  refreshToken(backend: $b, refreshToken: $t) {
    token { accessToken expiresAt } customer { email } userErrors { field code }
  }
}"""
REQUEST_EMAIL = """
mutation R($id: ID!, $email: String!) {
  requestEmailChange(id: $id, email: $email) {
    pending expiresAt customer { email pendingEmailChange } userErrors { field message code }
  }
}"""
CONFIRM_EMAIL = """
mutation C($id: ID!, $code: String!) {
  confirmEmailChange(id: $id, code: $code) {
    customer { email pendingEmailChange } userErrors { field message code }
  }
}"""
REQUEST_PHONE = """
mutation R($id: ID!, $phone: String!) {
  requestPhoneNumberChange(id: $id, phoneNumber: $phone) {
    pending customer { phoneNumber email pendingPhoneNumberChange } userErrors { field message code }
  }
}"""
CONFIRM_PHONE = """
mutation C($id: ID!, $code: String!) {
  confirmPhoneNumberChange(id: $id, code: $code) {
    customer { phoneNumber pendingPhoneNumberChange } userErrors { field message code }
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


def test_wrong_password_is_a_user_error_without_token(gateway: TestClient) -> None:
    body = gql(gateway, SIGN_IN, {"backend": "menu", "username": ADA[0], "password": "nope"})
    payload = body["data"]["signIn"]
    assert payload["token"] is None and payload["customer"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_CREDENTIALS"]
    assert "nope" not in str(body)


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


def test_refresh_with_the_refresh_token_argument(gateway: TestClient) -> None:
    token = sign_in(gateway)["token"]
    payload = gql(gateway, REFRESH, {"b": "menu", "t": token["refreshToken"]})["data"][
        "refreshToken"
    ]
    assert payload["token"]["accessToken"] != token["accessToken"]


@pytest.mark.parametrize("token", ["garbage", None])
def test_refresh_with_a_bad_or_missing_token_is_invalid_token(
    gateway: TestClient, token: str | None
) -> None:
    payload = gql(gateway, REFRESH, {"b": "menu", "t": token})["data"]["refreshToken"]
    assert payload["token"] is None
    assert payload["userErrors"] == [{"field": ["refreshToken"], "code": "INVALID_TOKEN"}]


def test_refresh_with_a_revoked_token_is_invalid_token(gateway: TestClient) -> None:
    old = sign_in(gateway)["token"]["accessToken"]
    gql(gateway, REFRESH, {"b": "menu", "t": old})
    payload = gql(gateway, REFRESH, {"b": "menu", "t": old})["data"]["refreshToken"]
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_TOKEN"]


# --- reading customers ----------------------------------------------------------------------


def test_me_is_the_tokens_customer(gateway: TestClient) -> None:
    payload = sign_in(gateway, GRACE)
    me = gql(gateway, ME, {"b": "menu"}, token=payload["token"]["accessToken"])["data"]["me"]
    assert me["email"] == GRACE[0] and me["id"] == payload["customer"]["id"]
    assert me["pendingEmailChange"] is False


@pytest.mark.parametrize("token", [None, "not-a-jwt", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA"])
def test_me_without_a_valid_token_is_unauthenticated(
    gateway: TestClient, menu: MenuSandbox, token: str | None
) -> None:
    body = gql(gateway, ME, {"b": "menu"}, token=token)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None
    if token is None:
        assert menu.journal.count() == 0


def test_expired_token_is_unauthenticated(gateway: TestClient, menu: MenuSandbox) -> None:
    token = sign_in(gateway)["token"]["accessToken"]
    menu.clock.advance(61 * 60)
    assert error_codes(gql(gateway, ME, {"b": "menu"}, token=token)) == ["UNAUTHENTICATED"]


def test_customer_by_own_id(gateway: TestClient) -> None:
    payload = sign_in(gateway)
    body = gql(
        gateway,
        "query($id: ID!) { customer(id: $id) { email nativeId } }",
        {"id": payload["customer"]["id"]},
        token=payload["token"]["accessToken"],
    )
    assert body["data"]["customer"]["email"] == ADA[0]


def test_another_customers_id_is_forbidden_without_asking_about_them(
    gateway: TestClient, menu: MenuSandbox
) -> None:
    ada = sign_in(gateway)
    grace = sign_in(gateway, GRACE)
    menu.journal.clear()
    token = ada["token"]["accessToken"]
    grace_id, grace_native = grace["customer"]["id"], grace["customer"]["nativeId"]
    read = gql(
        gateway, "query($id: ID!) { customer(id: $id) { email } }", {"id": grace_id}, token=token
    )
    assert error_codes(read) == ["FORBIDDEN"] and read["data"] == {"customer": None}
    write = gql(gateway, UPDATE, {"id": grace_id, "input": {"firstName": "Mallory"}}, token=token)
    assert error_codes(write) == ["FORBIDDEN"]
    change = gql(
        gateway, REQUEST_EMAIL, {"id": grace_id, "email": "mallory@example.com"}, token=token
    )
    assert error_codes(change) == ["FORBIDDEN"]
    assert all(grace_native not in e.path for e in menu.journal.entries)
    assert all(e.method == "GET" for e in menu.journal.entries)
    assert menu.account(grace_native)["first_name"] == "Grace"


def test_admin_reads_of_menu_customers_are_unsupported(gateway: TestClient) -> None:
    ada = sign_in(gateway)
    body = gql(
        gateway,
        "query($id: ID!) { customer(id: $id) { email } }",
        {"id": ada["customer"]["id"]},
        admin_key="test-admin-key-0123456789",
    )
    assert error_codes(body) == ["UNSUPPORTED"]


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


def test_update_of_a_field_menu_cannot_write_is_refused_before_any_call(
    gateway: TestClient, menu: MenuSandbox
) -> None:
    ada = sign_in(gateway)
    menu.journal.clear()
    body = gql(
        gateway,
        UPDATE,
        {"id": ada["customer"]["id"], "input": {"locale": "fr", "firstName": "A"}},
        token=ada["token"]["accessToken"],
    )
    payload = body["data"]["updateCustomer"]
    assert payload["customer"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "locale"], "UNSUPPORTED")
    ]
    assert menu.journal.count() == 0


# --- OTP-confirmed changes: email-auth brand ------------------------------------------------


def test_invalid_email_makes_no_upstream_call(gateway: TestClient, menu: MenuSandbox) -> None:
    ada = sign_in(gateway)
    menu.journal.clear()
    body = gql(
        gateway,
        REQUEST_EMAIL,
        {"id": ada["customer"]["id"], "email": "not an email"},
        token=ada["token"]["accessToken"],
    )
    payload = body["data"]["requestEmailChange"]
    assert payload["pending"] is False and payload["customer"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["email"], "INVALID")]
    assert menu.journal.count() == 0


def test_email_change_waits_for_the_code_and_wrong_codes_change_nothing(
    gateway: TestClient, menu: MenuSandbox
) -> None:
    ada = sign_in(gateway)
    token, cid, native = (
        ada["token"]["accessToken"],
        ada["customer"]["id"],
        ada["customer"]["nativeId"],
    )
    requested = gql(gateway, REQUEST_EMAIL, {"id": cid, "email": "Ada@Example.org"}, token=token)[
        "data"
    ]["requestEmailChange"]
    assert requested["userErrors"] == []
    assert requested["pending"] is True
    assert parse(requested["expiresAt"]) > datetime.now(UTC) + timedelta(minutes=9)
    assert requested["customer"] == {"email": ADA[0], "pendingEmailChange": True}
    message = menu.outbox.latest()
    assert message is not None and message.to.lower() == "ada@example.org"
    wrong = "000000" if message.code != "000000" else "111111"

    rejected = gql(gateway, CONFIRM_EMAIL, {"id": cid, "code": wrong}, token=token)["data"][
        "confirmEmailChange"
    ]
    assert rejected["customer"] is None
    assert rejected["userErrors"] == [
        {"field": ["code"], "message": "The code is not correct.", "code": "OTP_INVALID"}
    ]
    assert menu.account(native)["email"] == ADA[0]
    assert gql(gateway, ME, {"b": "menu"}, token=token)["data"]["me"]["pendingEmailChange"] is True

    confirmed = gql(gateway, CONFIRM_EMAIL, {"id": cid, "code": message.code}, token=token)["data"][
        "confirmEmailChange"
    ]
    assert confirmed["userErrors"] == []
    assert confirmed["customer"]["email"].lower() == "ada@example.org"
    assert confirmed["customer"]["pendingEmailChange"] is False
    assert menu.account(native)["email"].lower() == "ada@example.org"
    assert message.code not in str(confirmed)


def test_fifth_wrong_code_cancels_the_change(gateway: TestClient, menu: MenuSandbox) -> None:
    ada = sign_in(gateway)
    token, cid, native = (
        ada["token"]["accessToken"],
        ada["customer"]["id"],
        ada["customer"]["nativeId"],
    )
    gql(gateway, REQUEST_EMAIL, {"id": cid, "email": "ada@example.org"}, token=token)
    message = menu.outbox.latest()
    assert message is not None
    wrong = "000000" if message.code != "000000" else "111111"
    codes = []
    for _ in range(5):
        payload = gql(gateway, CONFIRM_EMAIL, {"id": cid, "code": wrong}, token=token)["data"][
            "confirmEmailChange"
        ]
        codes.append(payload["userErrors"][0]["code"])
    assert codes == ["OTP_INVALID"] * 4 + ["OTP_ATTEMPTS_EXCEEDED"]
    late = gql(gateway, CONFIRM_EMAIL, {"id": cid, "code": message.code}, token=token)["data"][
        "confirmEmailChange"
    ]
    assert [e["code"] for e in late["userErrors"]] == ["NO_PENDING_CHANGE"]
    assert menu.account(native)["email"] == ADA[0]
    assert menu.journal.count("PUT", "verify-email-update") == 5
    assert gql(gateway, ME, {"b": "menu"}, token=token)["data"]["me"]["pendingEmailChange"] is False


def test_confirm_with_nothing_pending(gateway: TestClient, menu: MenuSandbox) -> None:
    ada = sign_in(gateway)
    payload = gql(
        gateway,
        CONFIRM_EMAIL,
        {"id": ada["customer"]["id"], "code": "123456"},
        token=ada["token"]["accessToken"],
    )["data"]["confirmEmailChange"]
    assert [e["code"] for e in payload["userErrors"]] == ["NO_PENDING_CHANGE"]
    assert menu.journal.count(path_contains="verify") == 0


def test_malformed_code_counts_as_a_wrong_code_without_an_upstream_call(
    gateway: TestClient, menu: MenuSandbox
) -> None:
    ada = sign_in(gateway)
    token, cid = ada["token"]["accessToken"], ada["customer"]["id"]
    gql(gateway, REQUEST_EMAIL, {"id": cid, "email": "ada@example.org"}, token=token)
    payload = gql(gateway, CONFIRM_EMAIL, {"id": cid, "code": "12ab"}, token=token)["data"][
        "confirmEmailChange"
    ]
    assert [e["code"] for e in payload["userErrors"]] == ["OTP_INVALID"]
    assert menu.journal.count(path_contains="verify") == 0


def test_taken_email_is_reported_on_the_email_argument(gateway: TestClient) -> None:
    ada = sign_in(gateway)
    payload = gql(
        gateway,
        REQUEST_EMAIL,
        {"id": ada["customer"]["id"], "email": GRACE[0]},
        token=ada["token"]["accessToken"],
    )["data"]["requestEmailChange"]
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["email"], "TAKEN")]


def test_phone_changes_directly_in_an_email_brand(gateway: TestClient, menu: MenuSandbox) -> None:
    ada = sign_in(gateway)
    payload = gql(
        gateway,
        REQUEST_PHONE,
        {"id": ada["customer"]["id"], "phone": "+44 20 7946 0958"},
        token=ada["token"]["accessToken"],
    )["data"]["requestPhoneNumberChange"]
    assert payload["userErrors"] == [] and payload["pending"] is False
    assert payload["customer"]["phoneNumber"] == "+442079460958"
    assert menu.account(ada["customer"]["nativeId"])["phone_number"] == "+442079460958"
    assert menu.outbox.latest() is None


def test_invalid_phone_makes_no_upstream_call(gateway: TestClient, menu: MenuSandbox) -> None:
    ada = sign_in(gateway)
    menu.journal.clear()
    payload = gql(
        gateway,
        REQUEST_PHONE,
        {"id": ada["customer"]["id"], "phone": "+1 555"},
        token=ada["token"]["accessToken"],
    )["data"]["requestPhoneNumberChange"]
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["phoneNumber"], "INVALID")
    ]
    assert menu.journal.count() == 0


# --- phone-auth brand -----------------------------------------------------------------------


def test_phone_brand_confirms_phone_by_code_and_changes_email_directly(
    gateway: TestClient, sandboxes: Any
) -> None:
    brand: MenuSandbox = sandboxes.menu_phone
    ada = sign_in(gateway, backend="menu_phone")
    token, cid, native = (
        ada["token"]["accessToken"],
        ada["customer"]["id"],
        ada["customer"]["nativeId"],
    )

    email = gql(gateway, REQUEST_EMAIL, {"id": cid, "email": "ada@example.org"}, token=token)[
        "data"
    ]["requestEmailChange"]
    assert email["pending"] is False and email["customer"]["email"] == "ada@example.org"

    phone = gql(gateway, REQUEST_PHONE, {"id": cid, "phone": "+14155550199"}, token=token)["data"][
        "requestPhoneNumberChange"
    ]
    assert phone["pending"] is True
    assert phone["customer"]["phoneNumber"] == "+14155550101"
    assert phone["customer"]["pendingPhoneNumberChange"] is True
    sms = brand.outbox.latest()
    assert sms is not None and sms.channel == "sms" and sms.to == "+14155550199"

    done = gql(gateway, CONFIRM_PHONE, {"id": cid, "code": sms.code}, token=token)["data"][
        "confirmPhoneNumberChange"
    ]
    assert done["userErrors"] == [] and done["customer"]["phoneNumber"] == "+14155550199"
    assert brand.account(native)["phone_number"] == "+14155550199"


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
