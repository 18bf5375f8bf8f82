"""P19 (mapping fuzz), P22 (validation before writes) and P25 (graceful shutdown)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from conftest import Sandboxes, menu_backend
from customer_gateway.connectors.kibo import mapping as kibo
from customer_gateway.connectors.menu import mapping as menu
from customer_gateway.connectors.open_loyalty import mapping as open_loyalty
from customer_gateway.domain import BackendProtocolError
from support.graphql import gql
from support.live import serve_process

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=25,
)
VENDOR_KEYS = st.sampled_from(
    [
        "id",
        "email",
        "customerId",
        "accessToken",
        "customerAccount",
        "data",
        "customer_account",
        "token",
        "value",
        "ttl",
        "contacts",
        "levelId",
        "level",
        "points",
        "status",
        "address",
        "phoneNumbers",
    ]
)
PAYLOADS = st.dictionaries(VENDOR_KEYS, JSON, max_size=8) | JSON


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PAYLOADS)
def test_p19_mappings_raise_only_the_mapping_error(payload: Any) -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    for build in (
        lambda: menu.auth_result_from_envelope("menu", payload, now),
        lambda: menu.customer_from_account("menu", menu.account_from_envelope(payload)),
        lambda: kibo.auth_result_from_ticket("kibo", payload),
        lambda: kibo.page_from_collection("kibo", payload, 0),
        lambda: open_loyalty.customers_from_list("loyalty", payload),
        lambda: open_loyalty.loyalty_status_from_payload(payload),
        lambda: open_loyalty.token_from_login(payload),
        lambda: open_loyalty.field_problems(payload),
        lambda: menu.field_problems(payload),
    ):
        with contextlib.suppress(BackendProtocolError):  # the one error a mapping may raise
            build()


# --- P22 validation before any write --------------------------------------------------------

BAD_EMAILS = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_characters="@", blacklist_categories=("Cs",)), max_size=30
    ),
    st.builds(
        lambda a, b: f"{a}@{b}",
        st.text(max_size=5),
        st.sampled_from(["", ".", "x", "-x.com", "x..com"]),
    ),
    st.sampled_from(
        [
            "ada@exаmple.com",  # noqa: RUF001 - a Cyrillic letter is the point
            "ada@@example.com",
            "ada @example.com",
            "@example.com",
            "ada@",
            "ada@example..com",
        ]
    ),
)
BAD_PHONES = st.one_of(
    st.text(alphabet="0123456789 ()-", max_size=20),
    st.sampled_from(
        [
            "+1",
            "+1 555",
            "+999999999999999999",
            "+1415555010",
            "+44 20",
            "+1‪4155550101",
            "++14155550101",
        ]
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(email=BAD_EMAILS, phone=BAD_PHONES)
def test_p22_invalid_email_and_phone_never_reach_the_backend(
    gateway: TestClient, sandboxes: Sandboxes, email: str, phone: str
) -> None:
    signed = gql(
        gateway,
        'mutation { signIn(backend: "menu", username: "grace.hopper@example.com", password: "menu-demo-pass-2") { token { accessToken } customer { id } } }',
    )["data"]["signIn"]
    token, cid = signed["token"]["accessToken"], signed["customer"]["id"]
    writes = sandboxes.menu.journal.count("PUT")
    bodies = [
        gql(
            gateway,
            "mutation($id: ID!, $v: String!) { requestEmailChange(id: $id, email: $v) { userErrors { field code } } }",
            {"id": cid, "v": email},
            token=token,
        )["data"]["requestEmailChange"],
        gql(
            gateway,
            "mutation($id: ID!, $v: String!) { requestPhoneNumberChange(id: $id, phoneNumber: $v) { userErrors { field code } } }",
            {"id": cid, "v": phone},
            token=token,
        )["data"]["requestPhoneNumberChange"],
    ]
    assert bodies[0]["userErrors"] == [{"field": ["email"], "code": "INVALID"}], email
    assert bodies[1]["userErrors"] == [{"field": ["phoneNumber"], "code": "INVALID"}], phone
    assert sandboxes.menu.journal.count("PUT") == writes


# --- P25 graceful shutdown ------------------------------------------------------------------


def test_p25_sigterm_finishes_in_flight_requests(sandboxes: Sandboxes, tmp_path: Path) -> None:
    config = '[gateway]\nlog_level = "WARNING"\n' + menu_backend("menu", sandboxes.url("menu"))
    with serve_process(config, tmp_path) as (url, process):
        sandboxes.menu.faults.add("delay", "/customers/login", delay_s=2.0, times=1000)
        sandboxes.menu.journal.clear()
        query = {
            "query": 'mutation { signIn(backend: "menu", username: "ada.lovelace@example.com", password: "menu-demo-pass") { customer { email } userErrors { code } } }'
        }

        def call(_: int) -> str:
            try:
                response = httpx.post(f"{url}/graphql", json=query, timeout=15)
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
                # Refused before the server took the request in: the connection was not
                # accepted, or closed by the stopping server without reading the request.
                # Requests it took in are counted below and must all be answered.
                return "refused"
            body = response.json()
            return (
                "ok"
                if body["data"]["signIn"]["customer"]["email"] == "ada.lovelace@example.com"
                else "bad"
            )

        with concurrent.futures.ThreadPoolExecutor(50) as pool:
            futures = [pool.submit(call, i) for i in range(50)]
            waited = time.monotonic() + 30
            while sandboxes.menu.journal.count("POST", "/customers/login") < 45:
                assert time.monotonic() < waited, "requests did not reach the backend"
                time.sleep(0.05)
            in_flight = sandboxes.menu.journal.count("POST", "/customers/login")
            process.send_signal(signal.SIGTERM)  # at least 45 are in flight, waiting upstream
            outcomes = [f.result() for f in futures]
        assert outcomes.count("bad") == 0
        assert set(outcomes) <= {"ok", "refused"}
        assert outcomes.count("ok") >= in_flight  # every request in flight was finished
        # Exited within the grace period; uvicorn re-raises the SIGTERM it handled, hence -15.
        assert process.wait(timeout=25) in (0, -signal.SIGTERM)


@pytest.fixture(autouse=True)
def _clear_faults(sandboxes: Sandboxes) -> None:
    sandboxes.menu.faults.clear()
