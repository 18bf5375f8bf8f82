"""The gateway on Open Loyalty: customers, levels, admin operations and loyalty linking.

What every connector kind does alike (sign-in, refresh, `me`, updates, each change flow,
refusals, upstream failures, hostile ids) is the connector contract, in tests/contract.
"""

from __future__ import annotations

import gc
from typing import Any
from urllib.parse import parse_qs

import pytest
from starlette.testclient import TestClient

from conftest import ADMIN_KEY, Sandboxes
from customer_gateway.sandbox.open_loyalty import OpenLoyaltySandbox
from support.graphql import error_codes, gql

ADA = ("ada.lovelace@example.com", "loyalty-demo-pass")
CUSTOMER_FIELDS = "id nativeId email phoneNumber firstName lastName gender birthDate status active loyaltyCardNumber address { street address2 city postal country } level { id name discountPercent } loyalty { points level { id name discountPercent conditionValue } nextLevel { name } pointsToNextLevel transactionsCount currency }"
SIGN_IN = f"""mutation($u: String!, $p: String!) {{ signIn(backend: "loyalty", username: $u, password: $p) {{
  token {{ accessToken refreshToken expiresAt }} customer {{ {CUSTOMER_FIELDS} }} userErrors {{ field code }} }} }}"""
UPDATE = """mutation($id: ID!, $input: UpdateCustomerInput!) { updateCustomer(id: $id, input: $input) {
  customer { firstName lastName birthDate gender marketingOptIn address { street address2 city postal country } }
  userErrors { field message code } } }"""


def sign_in(gateway: TestClient, who: tuple[str, str] = ADA) -> dict[str, Any]:
    payload: dict[str, Any] = gql(gateway, SIGN_IN, {"u": who[0], "p": who[1]})["data"]["signIn"]
    assert payload["userErrors"] == [], payload
    return payload


@pytest.fixture
def loyalty(sandboxes: Sandboxes) -> OpenLoyaltySandbox:
    return sandboxes.loyalty


# --- sign-in ------------------------------------------------------------------------------


def test_sign_in_returns_the_customer_with_level_and_points(linked_gateway: TestClient) -> None:
    payload = sign_in(linked_gateway)
    customer = payload["customer"]
    assert customer["email"] == ADA[0] and customer["status"] == "ACTIVE"
    assert customer["level"]["name"] == "Gold" and customer["level"]["discountPercent"] == 15.0
    loyalty = customer["loyalty"]
    assert loyalty["points"] == 1720 and loyalty["pointsToNextLevel"] == 3280
    assert loyalty["level"]["name"] == "Gold" and loyalty["level"]["conditionValue"] == 1500
    assert loyalty["level"]["id"] == customer["level"]["id"]  # ids come from the level list
    assert loyalty["nextLevel"]["name"] == "Platinum"
    assert payload["token"]["expiresAt"] is not None and payload["token"]["refreshToken"]


# --- admin operations ---------------------------------------------------------------------


def test_admin_list_is_a_relay_connection_over_pages(linked_gateway: TestClient) -> None:
    query = 'query($after: String) { customers(backend: "loyalty", first: 5, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { email } } } }'
    seen: list[str] = []
    after = None
    while True:
        page = gql(linked_gateway, query, {"after": after}, admin_key=ADMIN_KEY)["data"][
            "customers"
        ]
        assert page["totalCount"] == 12
        seen += [e["node"]["email"] for e in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 12 and len(set(seen)) == 12


def test_admin_list_filters_and_caps_first(
    linked_gateway: TestClient, loyalty: OpenLoyaltySandbox
) -> None:
    body = gql(
        linked_gateway,
        '{ customers(backend: "loyalty", filter: {lastName: "Lovelace"}) { totalCount edges { node { email } } } }',
        admin_key=ADMIN_KEY,
    )
    assert [e["node"]["email"] for e in body["data"]["customers"]["edges"]] == [ADA[0]]
    loyalty.journal.clear()
    too_many = gql(
        linked_gateway,
        '{ customers(backend: "loyalty", first: 100000) { totalCount } }',
        admin_key=ADMIN_KEY,
    )
    assert error_codes(too_many) == ["BAD_USER_INPUT"]
    assert loyalty.journal.count() == 0


def test_first_is_nullable_with_its_default(linked_gateway: TestClient) -> None:
    """`first: Int = 20` as the contract pins it: null, or a nullable variable, gets 20."""
    query = 'query($n: Int) { customers(backend: "loyalty", first: $n) { edges { cursor } } }'
    for variables in ({"n": None}, {}):
        body = gql(linked_gateway, query, variables, admin_key=ADMIN_KEY)
        assert "errors" not in body and len(body["data"]["customers"]["edges"]) == 12
    literal = gql(
        linked_gateway,
        '{ customers(backend: "loyalty", first: null) { edges { cursor } } }',
        admin_key=ADMIN_KEY,
    )
    assert len(literal["data"]["customers"]["edges"]) == 12
    two = gql(linked_gateway, query, {"n": 2}, admin_key=ADMIN_KEY)
    assert len(two["data"]["customers"]["edges"]) == 2


@pytest.mark.parametrize("key", [None, "wrong-key-0123456789", ADMIN_KEY[:-1], ADMIN_KEY + "x"])
def test_admin_operations_need_the_admin_key(
    linked_gateway: TestClient, loyalty: OpenLoyaltySandbox, key: str | None
) -> None:
    assert error_codes(
        gql(linked_gateway, '{ customers(backend: "loyalty") { totalCount } }', admin_key=key)
    ) == ["FORBIDDEN"]
    ada_id = sign_in(linked_gateway)["customer"]["id"]
    body = gql(
        linked_gateway,
        "mutation($id: ID!) { deactivateCustomer(id: $id) { customer { active } } }",
        {"id": ada_id},
        admin_key=key,
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert loyalty.journal.count("POST", "deactivate") == 0


def test_activate_deactivate_and_assign_level(
    linked_gateway: TestClient, loyalty: OpenLoyaltySandbox
) -> None:
    ada = sign_in(linked_gateway)["customer"]
    off = gql(
        linked_gateway,
        "mutation($id: ID!) { deactivateCustomer(id: $id) { customer { active status } userErrors { code } } }",
        {"id": ada["id"]},
        admin_key=ADMIN_KEY,
    )
    assert off["data"]["deactivateCustomer"]["customer"] == {"active": False, "status": "BLOCKED"}
    assert (
        gql(linked_gateway, SIGN_IN, {"u": ADA[0], "p": ADA[1]})["data"]["signIn"]["userErrors"][0][
            "code"
        ]
        == "INVALID_CREDENTIALS"
    )
    on = gql(
        linked_gateway,
        "mutation($id: ID!) { activateCustomer(id: $id) { customer { active } } }",
        {"id": ada["id"]},
        admin_key=ADMIN_KEY,
    )
    assert on["data"]["activateCustomer"]["customer"]["active"] is True
    platinum = next(lv for lv in loyalty.levels() if lv["name"] == "Platinum")["levelId"]
    assigned = gql(
        linked_gateway,
        "mutation($id: ID!, $l: ID!) { assignLevel(id: $id, levelId: $l) { customer { level { name } } } }",
        {"id": ada["id"], "l": platinum},
        admin_key=ADMIN_KEY,
    )
    assert assigned["data"]["assignLevel"]["customer"]["level"]["name"] == "Platinum"
    unknown = gql(
        linked_gateway,
        'mutation($id: ID!) { assignLevel(id: $id, levelId: "nope") { customer { id } } }',
        {"id": ada["id"]},
        admin_key=ADMIN_KEY,
    )
    assert error_codes(unknown) == ["NOT_FOUND"]


def test_levels_need_no_credentials_and_are_cached(
    linked_gateway: TestClient, loyalty: OpenLoyaltySandbox
) -> None:
    query = '{ levels(backend: "loyalty") { id name discountPercent conditionValue } }'
    first = gql(linked_gateway, query)["data"]["levels"]
    assert [(lv["name"], lv["discountPercent"], lv["conditionValue"]) for lv in first] == [
        ("Bronze", 5.0, 0),
        ("Silver", 10.0, 500),
        ("Gold", 15.0, 1500),
        ("Platinum", 20.0, 5000),
    ]
    gql(linked_gateway, query)
    assert loyalty.journal.count("GET", "/level") == 1


# --- updates ------------------------------------------------------------------------------


def test_update_sends_form_fields_and_reads_the_customer_back(
    linked_gateway: TestClient, loyalty: OpenLoyaltySandbox
) -> None:
    ada = sign_in(linked_gateway)
    token, cid, native = (
        ada["token"]["accessToken"],
        ada["customer"]["id"],
        ada["customer"]["nativeId"],
    )
    first = gql(
        linked_gateway,
        UPDATE,
        {
            "id": cid,
            "input": {
                "address": {
                    "street": "Bagno",
                    "address2": "1",
                    "city": "Warszawa",
                    "postal": "00-000",
                    "country": "PL",
                }
            },
        },
        token=token,
    )
    assert first["data"]["updateCustomer"]["userErrors"] == []
    loyalty.journal.clear()
    body = gql(
        linked_gateway,
        UPDATE,
        {
            "id": cid,
            "input": {
                "lastName": "King",
                "birthDate": "1815-12-10",
                "marketingOptIn": True,
                "address": {"postal": "00-950"},
            },
        },
        token=token,
    )
    payload = body["data"]["updateCustomer"]
    assert payload["userErrors"] == []
    customer = payload["customer"]
    assert (customer["lastName"], customer["birthDate"], customer["marketingOptIn"]) == (
        "King",
        "1815-12-10",
        True,
    )
    # A partial address is merged and sent whole: Open Loyalty would erase the rest.
    assert customer["address"] == {
        "street": "Bagno",
        "address2": "1",
        "city": "Warszawa",
        "postal": "00-950",
        "country": "PL",
    }
    put = loyalty.journal.matching("PUT")[0]
    assert put.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert b"customer%5BlastName%5D=King" in put.body and b"customer%5Bagreement2%5D=1" in put.body
    assert loyalty.customer(native)["firstName"] == "Ada"


def test_update_errors_come_back_with_argument_paths(linked_gateway: TestClient) -> None:
    ada = sign_in(linked_gateway)
    body = gql(
        linked_gateway,
        UPDATE,
        {"id": ada["customer"]["id"], "input": {"address": {"postal": "!!"}, "gender": "robot"}},
        token=ada["token"]["accessToken"],
    )
    errors = body["data"]["updateCustomer"]["userErrors"]
    assert sorted((tuple(e["field"]), e["code"]) for e in errors) == [
        (("input", "address", "postal"), "INVALID"),
        (("input", "gender"), "INVALID"),
    ]
    assert all("valid" in e["message"] and "!!" not in e["message"] for e in errors)


# --- loyalty linked onto a commerce backend -----------------------------------------------


MENU_SIGN_IN = 'mutation($u: String!, $p: String!) { signIn(backend: "menu", username: $u, password: $p) { token { accessToken } } }'
LINKED = '{ me(backend: "menu") { email level { name } loyalty { points level { name } nextLevel { name } } } }'


def menu_token(gateway: TestClient, email: str, password: str) -> str:
    return str(
        gql(gateway, MENU_SIGN_IN, {"u": email, "p": password})["data"]["signIn"]["token"][
            "accessToken"
        ]
    )


def test_menu_customer_shows_open_loyalty_level_and_points(
    linked_gateway: TestClient, sandboxes: Sandboxes
) -> None:
    token = menu_token(linked_gateway, "ada.lovelace@example.com", "menu-demo-pass")
    sandboxes.loyalty.journal.clear()
    me = gql(linked_gateway, LINKED, token=token)["data"]["me"]
    assert me["level"] == {"name": "Gold"}
    assert me["loyalty"] == {
        "points": 1720.0,
        "level": {"name": "Gold"},
        "nextLevel": {"name": "Platinum"},
    }
    journal = sandboxes.loyalty.journal.entries
    # One lookup by email, one status, one level list (plus the admin login), all with the
    # loyalty backend's own admin token: the Menu customer's token never goes there.
    assert sandboxes.loyalty.journal.count("GET", "/admin/customer") == 2
    assert all(token not in str(e.headers) for e in journal)
    lookup = sandboxes.loyalty.journal.matching("GET", "/admin/customer")[0]
    query = parse_qs(lookup.query)
    assert query["email"] == ["ada.lovelace@example.com"] and query["strict"] == ["1"]


def test_no_loyalty_account_means_null_without_error(linked_gateway: TestClient) -> None:
    token = menu_token(linked_gateway, "grace.hopper@example.com", "menu-demo-pass-2")
    body = gql(linked_gateway, LINKED, token=token)
    assert "errors" not in body
    assert body["data"]["me"] == {
        "email": "grace.hopper@example.com",
        "level": None,
        "loyalty": None,
    }


def test_loyalty_is_asked_only_after_menu_confirmed_the_token(
    linked_gateway: TestClient, sandboxes: Sandboxes
) -> None:
    body = gql(linked_gateway, LINKED, token="forged.token.value")
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert sandboxes.loyalty.journal.count() == 0


def test_a_failing_loyalty_backend_fails_only_the_loyalty_fields(
    make_gateway: Any, sandboxes: Sandboxes
) -> None:
    from conftest import loyalty_backend, menu_backend
    from support.live import free_port

    gateway = make_gateway(
        menu_backend("menu", sandboxes.url("menu"), extra='loyalty = "loyalty"')
        + loyalty_backend(
            "loyalty", f"http://127.0.0.1:{free_port()}/api", extra="max_attempts = 1"
        )
    )
    token = menu_token(gateway, "ada.lovelace@example.com", "menu-demo-pass")
    body = gql(gateway, '{ me(backend: "menu") { email loyalty { points } } }', token=token)
    assert body["data"]["me"] == {"email": "ada.lovelace@example.com", "loyalty": None}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["me", "loyalty"], "BACKEND_UNAVAILABLE")
    ]


def test_a_page_of_customers_with_loyalty_costs_a_bounded_number_of_calls(
    linked_gateway: TestClient, loyalty: OpenLoyaltySandbox
) -> None:
    for i in range(45):
        loyalty.add_customer(email=f"bulk{i}@example.com", points=100 + i)
    gql(linked_gateway, '{ levels(backend: "loyalty") { name } }')  # warm the level cache
    loyalty.journal.clear()
    body = gql(
        linked_gateway,
        '{ customers(backend: "loyalty", first: 50) { edges { node { email loyalty { points } } } } }',
        admin_key=ADMIN_KEY,
    )
    edges = body["data"]["customers"]["edges"]
    assert len(edges) == 50
    assert sum(1 for e in edges if e["node"]["loyalty"] is not None) == 50 - sum(
        1 for e in edges if e["node"]["email"] == "ken.thompson@example.com"
    )
    # One list page, then each customer's status exactly once: no lookups, no repeats.
    assert loyalty.journal.count("GET", "/admin/customer") == 1 + 50
    statuses = [e.path for e in loyalty.journal.matching("GET", "/status")]
    assert len(statuses) == len(set(statuses)) == 50


def test_a_failed_status_on_a_page_is_reported_on_that_customer_alone(
    linked_gateway: TestClient, loyalty: OpenLoyaltySandbox
) -> None:
    grace = loyalty.add_customer(email="grace.page@example.com", points=77)
    loyalty.faults.add("status", f"/customer/{grace['customerId']}/status", status=500, times=10)
    body = gql(
        linked_gateway,
        '{ customers(backend: "loyalty", first: 50) { edges { node { email level { name } loyalty { points } } } } }',
        admin_key=ADMIN_KEY,
    )
    edges = body["data"]["customers"]["edges"]
    failed = next(i for i, e in enumerate(edges) if e["node"]["email"] == "grace.page@example.com")
    # Its level comes with its profile; its points needed the status read that failed.
    assert edges[failed]["node"]["loyalty"] is None and edges[failed]["node"]["level"]
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["customers", "edges", failed, "node", "loyalty"], "BACKEND_UNAVAILABLE")
    ]
    ada = next(e["node"] for e in edges if e["node"]["email"] == "ada.lovelace@example.com")
    assert ada["loyalty"]["points"] > 0 and ada["level"]["name"]


def test_levels_a_customer_already_has_need_no_status_reads(
    linked_gateway: TestClient, loyalty: OpenLoyaltySandbox
) -> None:
    ada = sign_in(linked_gateway)
    gql(linked_gateway, '{ levels(backend: "loyalty") { name } }')  # warm the admin token
    loyalty.journal.clear()
    page = gql(
        linked_gateway,
        '{ customers(backend: "loyalty", first: 50) { edges { node { email level { name } } } } }',
        admin_key=ADMIN_KEY,
    )["data"]["customers"]["edges"]
    one = gql(
        linked_gateway,
        "query($id: ID!) { customer(id: $id) { level { name } } }",
        {"id": ada["customer"]["id"]},
        admin_key=ADMIN_KEY,
    )["data"]["customer"]
    me = gql(
        linked_gateway,
        '{ me(backend: "loyalty") { level { name } } }',
        token=ada["token"]["accessToken"],
    )["data"]["me"]
    in_page = next(e["node"] for e in page if e["node"]["email"] == ADA[0])
    assert one["level"]["name"] and one["level"] == me["level"] == in_page["level"]
    assert loyalty.journal.matching("GET", "/status") == []


def test_the_admin_token_is_fetched_once_for_many_requests(
    linked_gateway: TestClient, loyalty: OpenLoyaltySandbox
) -> None:
    for _ in range(3):
        gql(
            linked_gateway,
            '{ customers(backend: "loyalty", first: 20) { edges { node { loyalty { points } } } } }',
            admin_key=ADMIN_KEY,
        )
    assert loyalty.journal.count("POST", "admin/login_check") == 1
    login = loyalty.journal.matching("POST", "admin/login_check")[0].json()
    assert login["_username"] == "admin"


def test_a_customer_token_cannot_reach_another_customers_loyalty(
    linked_gateway: TestClient, sandboxes: Sandboxes
) -> None:
    ada = menu_token(linked_gateway, "ada.lovelace@example.com", "menu-demo-pass")
    grace = gql(
        linked_gateway,
        'mutation { signIn(backend: "menu", username: "grace.hopper@example.com", password: "menu-demo-pass-2") { customer { id } } }',
    )["data"]["signIn"]["customer"]["id"]
    sandboxes.loyalty.journal.clear()
    body = gql(
        linked_gateway,
        "query($id: ID!) { customer(id: $id) { email loyalty { points } level { name } } }",
        {"id": grace},
        token=ada,
    )
    assert error_codes(body) == ["FORBIDDEN"] and body["data"] == {"customer": None}
    assert sandboxes.loyalty.journal.count() == 0


def test_admin_reads_fetch_profile_and_status_concurrently(
    linked_gateway: TestClient, loyalty: OpenLoyaltySandbox
) -> None:
    ada = sign_in(linked_gateway)["customer"]
    gql(
        linked_gateway, '{ levels(backend: "loyalty") { name } }'
    )  # warm the admin token and levels
    loyalty.journal.clear()
    loyalty.faults.add("delay", f"/customer/{ada['nativeId']}", method="GET", delay_s=1.0)
    body = gql(
        linked_gateway,
        "query($id: ID!) { customer(id: $id) { email loyalty { points } } }",
        {"id": ada["id"]},
        admin_key=ADMIN_KEY,
    )
    assert body["data"]["customer"]["loyalty"]["points"] == 1720
    profile = loyalty.journal.matching("GET", f"/customer/{ada['nativeId']}")[0]
    status = loyalty.journal.matching("GET", "/status")[0]
    assert abs(status.at - profile.at) < 0.5  # the status did not wait for the slow profile


def test_me_reads_profile_and_status_concurrently_with_the_customers_own_token(
    linked_gateway: TestClient, loyalty: OpenLoyaltySandbox
) -> None:
    signed_in = sign_in(linked_gateway)
    ada, token = signed_in["customer"], signed_in["token"]["accessToken"]
    gql(linked_gateway, '{ levels(backend: "loyalty") { name } }')  # warm the levels cache
    loyalty.journal.clear()
    loyalty.faults.add("delay", f"/customer/{ada['nativeId']}", method="GET", delay_s=1.0)
    body = gql(
        linked_gateway, '{ me(backend: "loyalty") { email loyalty { points } } }', token=token
    )
    assert body["data"]["me"] == {"email": ADA[0], "loyalty": {"points": 1720}}
    profile = loyalty.journal.matching("GET", f"/customer/{ada['nativeId']}")[0]
    (status,) = loyalty.journal.matching("GET", "/status")
    assert abs(status.at - profile.at) < 0.5  # the status did not wait for the slow profile
    # The customer-scope read, with the customer's token: no admin token is involved.
    assert f"/customer/customer/{ada['nativeId']}/status" in status.path
    assert status.headers["authorization"] == f"Bearer {token}"
    assert loyalty.journal.count("POST", "admin/login_check") == 0


def test_me_reports_a_failed_status_on_the_loyalty_field_alone(
    linked_gateway: TestClient, loyalty: OpenLoyaltySandbox
) -> None:
    token = sign_in(linked_gateway)["token"]["accessToken"]
    loyalty.faults.add("status", "/status", method="GET", status=500, times=10)
    body = gql(
        linked_gateway, '{ me(backend: "loyalty") { email loyalty { points } } }', token=token
    )
    assert body["data"]["me"] == {"email": ADA[0], "loyalty": None}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["me", "loyalty"], "BACKEND_UNAVAILABLE")
    ]


def test_me_with_an_expired_token_leaves_no_status_read_behind(
    linked_gateway: TestClient, loyalty: OpenLoyaltySandbox, caplog: pytest.LogCaptureFixture
) -> None:
    token = sign_in(linked_gateway)["token"]["accessToken"]
    loyalty.clock.advance(86401)
    body = gql(
        linked_gateway, '{ me(backend: "loyalty") { email loyalty { points } } }', token=token
    )
    assert error_codes(body) == ["UNAUTHENTICATED"] and body["data"] is None
    gc.collect()  # an unretrieved task error would be logged when the task is collected
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
