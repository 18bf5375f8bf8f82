"""Open Loyalty mapping on the vendor's published examples (tests/fixtures/open_loyalty)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from customer_gateway.connectors.open_loyalty import mapping
from customer_gateway.domain import Address, Customer, CustomerStatus, CustomerUpdate

FIXTURES = Path(__file__).parents[3] / "fixtures" / "open_loyalty"


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_customer_example() -> None:
    customer = mapping.customer_from_payload("loyalty", load("customer_get_200"))
    assert customer.native_id == "00000000-0000-474c-b092-b0dd880c07e1"
    assert (customer.email, customer.phone_number, customer.gender) == (
        "user@example.com",
        "+48234234000",
        "male",
    )
    assert customer.birth_date == date(1990, 9, 11)
    assert customer.created_at == datetime(2016, 8, 8, 8, 53, 14, tzinfo=UTC)  # +0200 offset
    assert customer.status is CustomerStatus.ACTIVE and customer.active is True
    assert customer.level is not None
    assert (customer.level.id, customer.level.name, customer.level.discount_percent) == (
        "e82c96cf-32a3-43bd-9034-4df343e50000",
        "level0",
        0.0,
    )
    assert customer.loyalty_card_number == "47834433524"
    assert customer.marketing_opt_in is False
    assert customer.address is None  # absent key, not null


def test_customer_list_with_address_and_total() -> None:
    customers, total = mapping.customers_from_list("loyalty", load("customer_list_200"))
    assert total == 2 and len(customers) == 2
    address = customers[0].address
    assert address == Address(
        street="Bagno",
        address2="1",
        city="Warszawa",
        postal="00-000",
        province="Mazowieckie",
        country="PL",
    )
    assert customers[1].active is False
    assert mapping.customers_from_list("loyalty", load("customer_list_empty_200")) == ([], 0)


def test_status_example_parses_percent_strings_and_names_levels() -> None:
    status = mapping.loyalty_status_from_payload(load("customer_status_admin_200"))
    assert status is not None
    assert status.points == 0 and status.points_to_next_level == 200
    assert status.level is not None and status.next_level is not None
    assert (status.level.name, status.level.discount_percent, status.level.condition_value) == (
        "level1",
        15.0,
        20,
    )
    assert (status.next_level.name, status.next_level.discount_percent) == ("level2", 20.0)
    assert (status.transactions_count, status.transactions_amount, status.currency) == (
        2,
        100,
        "eur",
    )


def test_status_of_a_customer_without_points_account_is_none() -> None:
    assert mapping.loyalty_status_from_payload({"customerId": "x", "currency": "eur"}) is None


def test_status_levels_take_ids_from_the_level_list() -> None:
    levels = {
        level.name: level
        for level in (mapping.level_from_payload(x) for x in load("levels_list_200")["levels"])
    }
    payload = {"points": 30, "levelName": "Silver", "level": "15.00%"}
    status = mapping.loyalty_status_from_payload(payload, levels)
    assert status is not None and status.level is not None
    assert status.level.id == "e82c96cf-32a3-43bd-9034-4df343e5fd94"
    assert status.next_level is None  # top level: no nextLevel keys at all


def test_levels_list_reward_fraction_becomes_percent() -> None:
    bronze, silver = (mapping.level_from_payload(x) for x in load("levels_list_200")["levels"])
    assert (bronze.name, bronze.discount_percent, bronze.condition_value) == ("Bronze", 14.0, 0)
    assert (silver.discount_percent, silver.condition_value) == (15.0, 20)
    legacy = mapping.level_from_payload({"id": "old", "name": "Legacy"})
    assert legacy.id == "old" and legacy.discount_percent is None


def test_token_from_login_reads_exp_from_the_jwt() -> None:
    token = mapping.token_from_login(load("login_check_200"))
    assert token.refresh_token == "0558f8bb29948c4e54c443f..."
    assert token.expires_at is None  # the example's token is truncated: no readable claims
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDAsImlkIjoiYWJjIn0.sig"
    assert mapping.token_claims(jwt)["id"] == "abc"
    assert mapping.token_from_login({"token": jwt}).expires_at == datetime.fromtimestamp(
        1700000000, UTC
    )


def test_form_fields_nest_brackets_and_encode_booleans() -> None:
    fields = mapping.form_fields(
        {"firstName": "A", "address": {"city": "X", "postal": ""}, "agreement2": True}
    )
    assert fields == [
        ("customer[firstName]", "A"),
        ("customer[address][city]", "X"),
        ("customer[address][postal]", ""),
        ("customer[agreement2]", "1"),
    ]


def test_partial_address_is_merged_and_sent_whole() -> None:
    current = Customer(
        "loyalty",
        "c",
        address=Address(
            street="Bagno", address2="1", city="Warszawa", postal="00-000", country="PL"
        ),
    )
    values = mapping.update_fields(CustomerUpdate(address=Address(postal="00-950")), current)
    assert values == {
        "address": {
            "street": "Bagno",
            "address1": "1",
            "city": "Warszawa",
            "postal": "00-950",
            "province": "",
            "country": "PL",
        }
    }


def test_form_error_tree_maps_paths_and_taken() -> None:
    problems = mapping.field_problems(load("admin_data_400_form_errors"))
    assert [(p.field, p.code) for p in problems] == [(("email",), "TAKEN"), (None, "INVALID")]
    nested = {
        "form": {
            "children": {
                "firstName": {},
                "address": {"children": {"postal": {"errors": ["This value is not valid."]}}},
            }
        },
        "errors": [],
    }
    assert [(p.field, p.code) for p in mapping.field_problems(nested)] == [
        (("address", "postal"), "INVALID")
    ]
    phone = mapping.field_problems(load("customer_update_400_invalid_phone"))
    assert (("phone_number",), "INVALID") in [(p.field, p.code) for p in phone]
