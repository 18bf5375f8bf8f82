"""Kibo mapping on the vendor's published examples (tests/fixtures/kibo)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from customer_gateway.connectors.kibo import mapping
from customer_gateway.domain import (
    BackendProtocolError,
    CustomerFilter,
    CustomerStatus,
    CustomerUpdate,
)

FIXTURES = Path(__file__).parents[3] / "fixtures" / "kibo"


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_storefront_ticket_maps_opaque_access_token_and_epoch_ms_expiries() -> None:
    result = mapping.auth_result_from_ticket("kibo", load("storefront_login_auth_ticket"))
    token = result.token
    assert token.access_token.startswith("S8k9/") and token.access_token.count(".") == 0
    assert token.refresh_token == "c679d7ce7fbe4c4f94f2355c767f0337"
    assert token.expires_at == datetime.fromtimestamp(1655298784.785, UTC)
    assert token.refresh_expires_at == datetime.fromtimestamp(1655384284.785, UTC)
    customer = result.customer
    assert customer.native_id == "1074"
    assert (customer.email, customer.first_name, customer.last_name) == (
        "suman@email.com",
        "Suman",
        "Patro",
    )


def test_iso_expiries_as_the_rest_api_sends_them() -> None:
    ticket = {
        "accessToken": "opaque",
        "accessTokenExpiration": "2023-11-07T05:31:56Z",
        "refreshToken": "r",
        "refreshTokenExpiration": "2023-11-08T05:16:56.123Z",
        "customerAccount": {"id": 7},
    }
    token = mapping.auth_result_from_ticket("kibo", ticket).token
    assert token.expires_at == datetime(2023, 11, 7, 5, 31, 56, tzinfo=UTC)
    assert token.refresh_expires_at is not None and token.refresh_expires_at.day == 8


def test_phone_and_address_come_from_the_primary_contact() -> None:
    contact = load("customer_contact")
    other = {
        **contact,
        "id": 2,
        "types": [{"name": "Shipping", "isPrimary": True}],
        "phoneNumbers": {"mobile": "+14155550101"},
    }
    account = {
        "id": 1012,
        "emailAddress": "c@example.com",
        "isActive": True,
        "contacts": [contact, other],
    }
    customer = mapping.customer_from_account("kibo", account)
    assert customer.phone_number == "+14155550101"
    only = mapping.customer_from_account("kibo", {**account, "contacts": [contact]})
    assert only.phone_number == "7875675849"  # no mobile: the home number
    assert only.address is not None and (only.address.city, only.address.postal) == (
        "Austin",
        "34543",
    )
    assert only.status is CustomerStatus.ACTIVE


def test_disabled_or_locked_accounts_are_blocked() -> None:
    assert (
        mapping.customer_from_account("kibo", {"id": 1, "isActive": False}).status
        is CustomerStatus.BLOCKED
    )
    assert (
        mapping.customer_from_account("kibo", {"id": 1, "isActive": True, "isLocked": True}).status
        is CustomerStatus.BLOCKED
    )


def test_update_keeps_every_unsent_field() -> None:
    account = {
        "id": 1,
        "firstName": "A",
        "lastName": "B",
        "emailAddress": "a@b.test",
        "taxId": "X",
        "contacts": [{"id": 3}],
    }
    body = mapping.account_with_update(
        account, CustomerUpdate(last_name="C", marketing_opt_in=True)
    )
    assert body == {**account, "lastName": "C", "acceptsMarketing": True}


def test_new_email_moves_the_login_name_with_it() -> None:
    same = mapping.account_with_email(
        {"emailAddress": "a@b.test", "userName": "a@b.test"}, "n@b.test"
    )
    assert same["userName"] == "n@b.test"
    different = mapping.account_with_email(
        {"emailAddress": "a@b.test", "userName": "alice"}, "n@b.test"
    )
    assert different["userName"] == "alice"


def test_contact_with_phone_updates_or_creates_the_primary_contact() -> None:
    contact = load("customer_contact")
    updated = mapping.contact_with_phone(contact, {"id": 1012}, "+14155550199")
    assert updated["phoneNumbers"] == {"home": "7875675849", "mobile": "+14155550199", "work": None}
    assert updated["id"] == 1495
    created = mapping.contact_with_phone(None, {"id": 5, "firstName": "A", "lastName": "B"}, "+1")
    assert created["types"] == [{"name": "Billing", "isPrimary": True}]
    assert created["phoneNumbers"]["mobile"] == "+1" and created["lastNameOrSurname"] == "B"


def test_filter_expression_quotes_values() -> None:
    assert mapping.filter_expression(CustomerFilter()) is None
    expression = mapping.filter_expression(
        CustomerFilter(email="o'neil@example.com", last_name="Lo")
    )
    assert expression == "emailAddress eq 'o\\'neil@example.com' and lastName sw 'Lo'"


def test_collection_maps_to_a_page_by_item_offset() -> None:
    collection = {
        "startIndex": 20,
        "pageSize": 20,
        "pageCount": 3,
        "totalCount": 45,
        "items": [{"id": 21}, {"id": 22}],
    }
    page = mapping.page_from_collection("kibo", collection, 20)
    assert [c.native_id for c in page.customers] == ["21", "22"]
    assert page.total == 45 and page.has_next


@pytest.mark.parametrize(
    "ticket",
    [{}, {"accessToken": "x"}, {"accessToken": "x", "customerAccount": {"firstName": "no id"}}],
)
def test_unusable_tickets_raise_the_mapping_error(ticket: dict[str, Any]) -> None:
    with pytest.raises(BackendProtocolError):
        mapping.auth_result_from_ticket("kibo", ticket)
