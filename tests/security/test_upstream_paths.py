"""Trust rule: nothing a client or a token claim supplies is pasted into an upstream URL.

Attacks as they were sent (forged Open Loyalty tokens, line breaks in tokens), then a property
test that feeds hostile values into every connector operation taking an id, a code or a claim
and checks, from the sandbox journals, that every request that reached a vendor is one of that
vendor's documented routes. Hostile native ids inside global ids, refused before any call, are
part of the connector contract (tests/contract), for every kind.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from conftest import (
    ADMIN_KEY,
    GatewayFactory,
    Sandboxes,
    kibo_backend,
    loyalty_backend,
    menu_backend,
)
from customer_gateway.connectors.kibo import KiboConnector, KiboSettings
from customer_gateway.connectors.menu import MenuConnector, MenuSettings
from customer_gateway.connectors.open_loyalty import OpenLoyaltyConnector, OpenLoyaltySettings
from customer_gateway.connectors.protocol import CustomerCredentials, ServiceCredentials
from customer_gateway.domain import (
    ChangeKind,
    CustomerFilter,
    CustomerUpdate,
    GatewayError,
    encode_customer_id,
)
from customer_gateway.observability.logging import RedactingFilter, TextFormatter
from customer_gateway.sandbox.journal import Journal
from customer_gateway.sandbox.kibo import DEMO_APPLICATION
from customer_gateway.sandbox.menu import DEMO_APPLICATION_KEY
from customer_gateway.sandbox.open_loyalty import DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME
from customer_gateway.testing.failures import HOSTILE_IDS
from support.graphql import error_codes, gql

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
INT_RE = r"(?:0|[1-9][0-9]{0,9})"

# The vendors' documented routes (backends.md), under each sandbox's mount and `/api`.
VENDOR_ROUTES = {
    "menu": [
        "customers/login",
        "customers/refresh",
        "customers/me",
        f"customer-accounts/{UUID_RE}",
        f"customer-accounts/{UUID_RE}/verify-email-update",
        f"customer-accounts/{UUID_RE}/verify-phone-number-update",
    ],
    "kibo": [
        "platform/applications/authtickets/oauth",
        "commerce/customer/authtickets",
        "commerce/customer/authtickets/refresh",
        "commerce/customer/accounts",
        "commerce/customer/accounts/current",
        f"commerce/customer/accounts/{INT_RE}",
        f"commerce/customer/accounts/{INT_RE}/action",
        f"commerce/customer/accounts/{INT_RE}/contacts",
        f"commerce/customer/accounts/{INT_RE}/contacts/{INT_RE}",
    ],
    "loyalty": [
        "admin/login_check",
        "token/refresh",
        "DEFAULT/customer/login_check",
        "DEFAULT/admin/customer",
        "DEFAULT/level",
        f"DEFAULT/customer/{UUID_RE}",
        f"DEFAULT/customer/{UUID_RE}/level",
        "DEFAULT/customer/confirm-change/[0-9]{4,10}",
        f"DEFAULT/admin/customer/{UUID_RE}/status",
        f"DEFAULT/customer/customer/{UUID_RE}/status",
        f"DEFAULT/admin/customer/{UUID_RE}/(?:activate|deactivate)",
    ],
}
ROUTE_PATTERNS = {
    vendor: re.compile(rf"/{vendor}/api/(?:{'|'.join(routes)})")
    for vendor, routes in VENDOR_ROUTES.items()
}

hostile = st.one_of(
    st.sampled_from(HOSTILE_IDS),  # as attackers sent them
    st.text(alphabet=st.sampled_from("/.?#%&=\r\n\x00 a1²٣-:@\\"), min_size=1, max_size=40),
    st.text(min_size=1, max_size=64),
)


def forged_token(claims: dict[str, Any]) -> str:
    """An unsigned JWT, as an attacker writes one: any claims, no key."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def assert_documented_routes(sandboxes: Sandboxes) -> None:
    journals: dict[str, Journal] = {
        "menu": sandboxes.menu.journal,
        "kibo": sandboxes.kibo.journal,
        "loyalty": sandboxes.loyalty.journal,
    }
    for vendor, journal in journals.items():
        for entry in journal.entries:
            assert ROUTE_PATTERNS[vendor].fullmatch(entry.path), (vendor, entry.path)


# --- the attacks as they were sent ---------------------------------------------------------


@pytest.fixture
def all_backends(make_gateway: GatewayFactory, sandboxes: Sandboxes) -> TestClient:
    return make_gateway(
        menu_backend("menu", sandboxes.url("menu"), extra='loyalty = "loyalty"')
        + kibo_backend("kibo", sandboxes.url("kibo"), extra='loyalty = "loyalty"')
        + loyalty_backend("loyalty", sandboxes.url("loyalty")),
        extra="[limits]\nrequests_per_address = 100000\nrequests_per_token = 100000",
    )


@pytest.mark.parametrize(
    "claim",
    [
        "check?emailOrPhone=ada.lovelace@example.com&x=",
        "x/../../admin/customer?perPage=100&",
        "a\r\nINFO customer_gateway.upstream: forged",
        "x" * 4096,
    ],
)
def test_a_forged_token_claim_reaches_no_endpoint(
    all_backends: TestClient, sandboxes: Sandboxes, claim: str
) -> None:
    token = forged_token({"id": claim, "roles": ["ROLE_PARTICIPANT"]})
    body = gql(
        all_backends,
        'query { me(backend: "loyalty") { email loyalty { points } } }',
        token=token,
    )
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert sandboxes.loyalty.journal.entries == []


def test_a_forged_token_nested_too_deep_is_unauthenticated(
    all_backends: TestClient, sandboxes: Sandboxes
) -> None:
    """A payload of 3,000 `[`: decoding it raised RecursionError, which was INTERNAL."""
    payload = base64.urlsafe_b64encode(b"[" * 3000).rstrip(b"=").decode()
    token = f"eyJhbGciOiJub25lIn0.{payload}.x"
    body = gql(all_backends, 'query { me(backend: "loyalty") { email } }', token=token)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert sandboxes.loyalty.journal.entries == []


def test_a_line_break_in_a_refresh_token_is_an_invalid_token(
    all_backends: TestClient, sandboxes: Sandboxes
) -> None:
    body = gql(
        all_backends,
        'mutation($t: String) { refreshToken(backend: "menu", refreshToken: $t) '
        "{ token { accessToken } userErrors { code field } } }",
        {"t": "abc\r\nX-Injected: yes"},
    )
    assert "errors" not in body
    assert body["data"]["refreshToken"]["userErrors"] == [
        {"code": "INVALID_TOKEN", "field": ["refreshToken"]}
    ]
    assert sandboxes.menu.journal.entries == []


def test_a_line_break_in_a_logged_value_stays_on_one_line() -> None:
    """A claim or path that carries CR/LF cannot forge a second line in the text log."""
    record = logging.makeLogRecord(
        {
            "name": "customer_gateway.access",
            "levelname": "INFO",
            "msg": "request",
            "path": "/graphql\r\nERROR customer_gateway: forged",
        }
    )
    RedactingFilter().filter(record)
    assert "\n" not in TextFormatter().format(record)
    assert "\r" not in TextFormatter().format(record)


def _metric_series(text: str) -> set[str]:
    return {line.rsplit(" ", 1)[0] for line in text.splitlines() if not line.startswith("#")}


def test_hostile_requests_mint_no_metric_series(all_backends: TestClient) -> None:
    """1,000 hostile requests leave the set of series (and so the size) of /metrics as it was."""

    def attack(i: int) -> None:
        junk = f"{i:04d}" + "x" * (512 + i % 7)
        attacks = [
            (
                "mutation($id: ID!) { deactivateCustomer(id: $id) { customer { id } } }",
                {"id": encode_customer_id("loyalty", f"{junk}/../../level?")},
            ),
            (
                "mutation($id: ID!) { requestEmailChange(id: $id, email: $e) { pending } }".replace(
                    "$id: ID!", "$id: ID!, $e: String!"
                ),
                {"id": encode_customer_id(f"b{junk}", "1"), "e": "not-an-email"},
            ),
            ("query($id: ID!) { customer(id: $id) { email } }", {"id": f"Q3{junk}"}),
        ]
        query, variables = attacks[i % len(attacks)]
        gql(all_backends, query, variables, admin_key=ADMIN_KEY)

    token = forged_token({"id": "x" * 700})
    for i in range(30):  # every outcome these attacks have, once, before the count
        attack(i)
        gql(all_backends, 'query { me(backend: "loyalty") { email } }', token=token)
    before = all_backends.get("/metrics").text
    for i in range(1000):
        attack(i)
    gql(all_backends, 'query { me(backend: "loyalty") { email } }', token=token)
    after = all_backends.get("/metrics").text
    assert _metric_series(after) == _metric_series(before)
    assert len(after) - len(before) < 2048  # only counter values grew a digit or two


# --- every operation, hostile values -------------------------------------------------------


def connectors(sandboxes: Sandboxes) -> tuple[MenuConnector, KiboConnector, OpenLoyaltyConnector]:
    menu = MenuConnector(
        "menu",
        MenuSettings(base_url=sandboxes.url("menu"), application=DEMO_APPLICATION_KEY),
    )
    kibo = KiboConnector(
        "kibo",
        KiboSettings(
            base_url=sandboxes.url("kibo"),
            auth_url=sandboxes.url("kibo"),
            **DEMO_APPLICATION,
        ),
    )
    loyalty = OpenLoyaltyConnector(
        "loyalty",
        OpenLoyaltySettings(
            base_url=sandboxes.url("loyalty"),
            admin_username=DEMO_ADMIN_USERNAME,
            admin_password=DEMO_ADMIN_PASSWORD,
        ),
    )
    return menu, kibo, loyalty


Operation = Callable[[str], Awaitable[object]]


def operations(
    menu: MenuConnector, kibo: KiboConnector, loyalty: OpenLoyaltyConnector
) -> dict[str, Operation]:
    """Every connector operation that takes an id, a code or a token, fed the hostile value."""
    service = ServiceCredentials()
    update = CustomerUpdate(first_name="Eve")

    def customer(value: str) -> CustomerCredentials:
        return CustomerCredentials(value)

    claim = forged_token
    return {
        "menu.current_customer": lambda v: menu.current_customer(v),
        "menu.refresh_token": lambda v: menu.refresh_token(v),
        "menu.update_customer": lambda v: menu.update_customer(v, update, customer("t")),
        "menu.change_email": lambda v: menu.change_credential(
            v, ChangeKind.EMAIL, "eve@example.com", customer("t")
        ),
        "menu.confirm_change": lambda v: menu.confirm_change(
            v, ChangeKind.EMAIL, "123456", customer("t")
        ),
        "menu.confirm_code": lambda v: menu.confirm_change(
            "0ff757dd-9b8a-4750-89ad-03ff531ae923", ChangeKind.EMAIL, v, customer("t")
        ),
        "menu.bearer": lambda v: menu.update_customer(
            "0ff757dd-9b8a-4750-89ad-03ff531ae923", update, customer(v)
        ),
        "kibo.current_customer": lambda v: kibo.current_customer(v),
        "kibo.refresh_token": lambda v: kibo.refresh_token(v),
        "kibo.get_customer": lambda v: kibo.get_customer(v, service),
        "kibo.get_customers": lambda v: kibo.get_customers([v, "1001"], service),
        "kibo.update_customer": lambda v: kibo.update_customer(v, update, service),
        "kibo.change_phone": lambda v: kibo.change_credential(
            v, ChangeKind.PHONE_NUMBER, "+14155550101", service
        ),
        "kibo.set_active": lambda v: kibo.set_active(v, False),
        "kibo.find_by_credentials": lambda v: kibo.find_by_credentials(ChangeKind.EMAIL, [v]),
        "kibo.list_customers": lambda v: kibo.list_customers(
            CustomerFilter(email=v, last_name=v), 0, 5
        ),
        "loyalty.current_customer": lambda v: loyalty.current_customer(claim({"id": v})),
        "loyalty.own_status": lambda v: loyalty.own_loyalty_status(claim({"id": v})),
        "loyalty.get_customer": lambda v: loyalty.get_customer(v, service),
        "loyalty.get_customers": lambda v: loyalty.get_customers([v], service),
        "loyalty.update_customer": lambda v: loyalty.update_customer(v, update, service),
        "loyalty.change_email": lambda v: loyalty.change_credential(
            v, ChangeKind.EMAIL, "eve@example.com", service
        ),
        "loyalty.confirm_code": lambda v: loyalty.confirm_change(
            "0ff757dd-9b8a-4750-89ad-03ff531ae923", ChangeKind.PHONE_NUMBER, v, service
        ),
        "loyalty.status": lambda v: loyalty.loyalty_status(v),
        "loyalty.set_active": lambda v: loyalty.set_active(v, True),
        "loyalty.assign_level": lambda v: loyalty.assign_level(v, v),
        "loyalty.find_by_credentials": lambda v: loyalty.find_by_credentials(ChangeKind.EMAIL, [v]),
    }


async def _attack_every_operation(sandboxes: Sandboxes, value: str) -> dict[str, str]:
    menu, kibo, loyalty = connectors(sandboxes)
    outcomes: dict[str, str] = {}
    try:
        for name, operation in operations(menu, kibo, loyalty).items():
            try:
                await operation(value)
                outcomes[name] = "ok"
            except GatewayError as error:  # anything else is a bug, and fails the test
                outcomes[name] = error.code
    finally:
        for connector in (menu, kibo, loyalty):
            await connector.aclose()
    return outcomes


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=hostile)
@example(value="check?emailOrPhone=ada.lovelace@example.com&x=")
@example(value="x/../../admin/customer?perPage=100&")
@example(value="a\r\nX-Injected: 1")
@example(value="x" * 4096)
@example(value="²")
def test_every_upstream_path_is_a_documented_route(sandboxes: Sandboxes, value: str) -> None:
    for emulator in (sandboxes.menu, sandboxes.kibo, sandboxes.loyalty):
        emulator.journal.clear()
    outcomes = asyncio.run(_attack_every_operation(sandboxes, value))
    assert_documented_routes(sandboxes)
    assert "INTERNAL" not in outcomes.values()
