"""Menu mapping on the vendor's own published examples (tests/fixtures/menu)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from customer_gateway.connectors.menu import mapping
from customer_gateway.domain import BackendProtocolError, ChangeKind, CustomerUpdate

FIXTURES = Path(__file__).parents[3] / "fixtures" / "menu"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_refresh_example_maps_token_minutes_to_absolute_expiries() -> None:
    result = mapping.auth_result_from_envelope("menu", load("customers_refresh_200"), NOW)
    token = result.token
    assert token.access_token.startswith("eyJ")
    # Menu refreshes with the access JWT itself: there is no separate refresh token.
    assert token.refresh_token == token.access_token
    assert token.expires_at == NOW + timedelta(minutes=1440)
    # refresh_ttl (2628000 minutes) counts from the JWT's iat (1681304774), not from now.
    issued = datetime.fromtimestamp(1681304774, UTC)
    assert token.refresh_expires_at == issued + timedelta(minutes=2628000)


def test_refresh_example_customer_uses_account_uuid_not_jwt_sub() -> None:
    customer = mapping.auth_result_from_envelope(
        "menu", load("customers_refresh_200"), NOW
    ).customer
    assert customer.native_id == "0da5a3f0-a354-4c04-8438-f1389c19a3f7"
    assert customer.native_id != "5087717"  # the token's numeric `sub`
    assert customer.email == "ivan.djordjevic@partech.com"
    assert customer.phone_number == "+381111111111"
    assert customer.pending_email_change is True
    assert customer.pending_phone_number_change is True
    assert customer.created_at is None  # the refresh key set has no timestamps
    assert customer.marketing_opt_in is None  # 3 = pending


def test_update_example_reads_naive_timestamps_as_utc_and_empty_phone_as_none() -> None:
    account = mapping.account_from_envelope(load("customer_account_update_200"))
    customer = mapping.customer_from_account("menu", account)
    assert customer.updated_at == datetime(2023, 8, 28, 6, 37, 34, tzinfo=UTC)
    assert customer.created_at == datetime(2023, 8, 24, 15, 33, 27, tzinfo=UTC)
    assert customer.phone_number is None
    assert customer.first_name == "Jonathan"
    assert customer.locale == "en-US"
    assert customer.marketing_opt_in is False  # optin_status_email 2 = disabled
    assert customer.active is True
    assert customer.raw["reference_type"] == "CustomerAccount"


def test_verify_examples_show_the_new_credentials() -> None:
    email = mapping.account_from_envelope(load("verify_email_update_200"))
    phone = mapping.account_from_envelope(load("verify_phone_number_update_200"))
    assert mapping.customer_from_account("menu", email).email == "john.doe@yahoo.com"
    assert mapping.customer_from_account("menu", phone).phone_number == "+15852826525"


def test_phone_change_requested_example_keeps_old_number_and_flags_pending() -> None:
    account = mapping.account_from_envelope(load("customer_account_phone_change_requested_200"))
    customer = mapping.customer_from_account("menu", account)
    assert customer.phone_number == "+15852826524"
    assert customer.pending(ChangeKind.PHONE_NUMBER)
    assert not customer.pending(ChangeKind.EMAIL)


def test_birthday_demographic_is_read_only_when_configured() -> None:
    account = {
        "id": "a",
        "demographics": [{"demographic_id": "bday", "value": "2000-01-13"}],
    }
    assert mapping.customer_from_account("menu", account).birth_date is None
    configured = mapping.customer_from_account("menu", account, birthday_demographic_id="bday")
    assert configured.birth_date == date(2000, 1, 13)


@pytest.mark.parametrize(
    "envelope",
    [
        None,
        [],
        {"status": "OK"},
        {"status": "OK", "data": {"customer_account": {"email": "no-id@example.com"}}},
        {"status": "OK", "data": {"customer_account": "not an object"}},
    ],
)
def test_unusable_envelopes_raise_the_mapping_error(envelope: Any) -> None:
    with pytest.raises(BackendProtocolError):
        mapping.customer_from_account("menu", mapping.account_from_envelope(envelope))


def test_wrong_typed_optional_fields_read_as_none() -> None:
    customer = mapping.customer_from_account(
        "menu", {"id": "x", "first_name": 5, "state": "weird", "has_pending_email_change": "yes"}
    )
    assert customer.first_name is None
    assert customer.active is None
    assert customer.pending_email_change is False


def test_update_body_sends_only_changed_fields_with_vendor_names() -> None:
    body = mapping.update_body(
        CustomerUpdate(first_name="Jonathan", marketing_opt_in=False),
        birthday_demographic_id=None,
    )
    assert body == {"first_name": "Jonathan", "optin_status_email": 2}
    with_birthday = mapping.update_body(
        CustomerUpdate(birth_date=date(2000, 1, 13)), birthday_demographic_id="bday"
    )
    assert with_birthday == {"demographics": [{"demographic_id": "bday", "value": "2000-01-13"}]}


def test_credential_body_uses_the_vendor_field() -> None:
    assert mapping.credential_body(ChangeKind.EMAIL, "a@b.test") == {"email": "a@b.test"}
    assert mapping.credential_body(ChangeKind.PHONE_NUMBER, "+1415") == {"phone_number": "+1415"}


def test_field_problems_map_vendor_fields_and_never_echo_vendor_text() -> None:
    envelope = {
        "status": "UNPROCESSABLE_ENTITY",
        "code": 422,
        "message": "The given data was invalid.",
        "errors": {
            "email": ["The email has already been taken."],
            "phone_number": ["secret-ish vendor text +15550001111"],
            "mystery": ["?"],
        },
    }
    problems = mapping.field_problems(envelope)
    by_field = {p.field: p for p in problems}
    assert by_field[("email",)].code == "TAKEN"
    assert by_field[("phone_number",)].code == "INVALID"
    assert by_field[None].code == "INVALID"
    assert all("+1555" not in p.message and "taken" not in p.message for p in problems)


def test_field_problems_without_a_body_still_report_a_refusal() -> None:
    (problem,) = mapping.field_problems(None)
    assert problem.code == "INVALID"
