"""P16-P21: timeouts, retries, the circuit breaker, bad answers, pool health, partial failure."""

from __future__ import annotations

import asyncio
import re
import resource
import time
import tracemalloc

import httpx
import pytest
from starlette.testclient import TestClient

from conftest import (
    GatewayFactory,
    LiveGatewayFactory,
    Sandboxes,
    kibo_backend,
    loyalty_backend,
    menu_backend,
)
from support.graphql import error_codes, gql

SIGN_IN = 'mutation { signIn(backend: "menu", username: "ada.lovelace@example.com", password: "menu-demo-pass") { token { accessToken } customer { id } } }'


def menu_token(gateway: TestClient) -> str:
    return str(gql(gateway, SIGN_IN)["data"]["signIn"]["token"]["accessToken"])


# --- P16 timeouts ---------------------------------------------------------------------------


def test_p16_a_hanging_loyalty_backend_fails_only_its_field_in_time(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    gateway = make_gateway(
        menu_backend("menu", sandboxes.url("menu"), extra='loyalty = "loyalty"')
        + loyalty_backend(
            "loyalty", sandboxes.url("loyalty"), extra="timeout_s = 0.5\nmax_attempts = 1"
        )
    )
    token = menu_token(gateway)
    gql(gateway, '{ levels(backend: "loyalty") { name } }')  # admin token and level cache warm
    sandboxes.loyalty.faults.add("hang", "/status", times=5)
    started = time.monotonic()
    body = gql(gateway, '{ me(backend: "menu") { firstName loyalty { points } } }', token=token)
    elapsed = time.monotonic() - started
    assert body["data"]["me"] == {"firstName": "Ada", "loyalty": None}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["me", "loyalty"], "BACKEND_UNAVAILABLE")
    ]
    assert elapsed < 0.5 + 0.5


# --- P17 retries ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["read", "write", "refresh"])
def test_p17_reads_are_retried_writes_and_refreshes_are_not(
    make_gateway: GatewayFactory, sandboxes: Sandboxes, case: str
) -> None:
    gateway = make_gateway(menu_backend("menu", sandboxes.url("menu")))  # a fresh retry budget
    menu = sandboxes.menu
    signed = gql(gateway, SIGN_IN)["data"]["signIn"]
    token, cid = signed["token"]["accessToken"], signed["customer"]["id"]
    menu.journal.clear()
    if case == "read":
        menu.faults.add("status", "/customers/me", status=503, times=2)
        body = gql(gateway, '{ me(backend: "menu") { email } }', token=token)
        assert body["data"]["me"]["email"] == "ada.lovelace@example.com"
        assert menu.journal.count("GET", "/customers/me") == 3  # (a) 503, 503, 200
    elif case == "write":
        menu.faults.add("status", "/customer-accounts/", method="PUT", status=503)
        update = gql(
            gateway,
            'mutation($id: ID!) { updateCustomer(id: $id, input: {firstName: "A"}) { userErrors { code } } }',
            {"id": cid},
            token=token,
        )
        assert error_codes(update) == ["BACKEND_UNAVAILABLE"]
        assert menu.journal.count("PUT") == 1  # (b) a write is sent once
    else:
        menu.faults.add("status", "/customers/refresh", status=503)
        refresh = gql(
            gateway,
            'mutation { refreshToken(backend: "menu") { userErrors { code } } }',
            token=token,
        )
        assert error_codes(refresh) == ["BACKEND_UNAVAILABLE"]
        assert menu.journal.count("GET", "/customers/refresh") == 1  # (c) a GET that issues a token


def test_p17_retries_stay_within_the_budget(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    gateway = make_gateway(
        menu_backend(
            "menu", sandboxes.url("menu"), extra="circuit_failures = 100000\nretry_floor_per_s = 2"
        )
    )
    sandboxes.menu.faults.add("status", "/customers/me", status=503, times=10_000)
    started = time.monotonic()
    for _ in range(200):
        assert error_codes(gql(gateway, '{ me(backend: "menu") { email } }', token="t")) == [
            "BACKEND_UNAVAILABLE"
        ]
    windows = 1 + int((time.monotonic() - started) / 10)  # the budget's window is 10 s
    calls = sandboxes.menu.journal.count("GET", "/customers/me")
    # (d) at most 10 % on top, plus the floor of 2 retries a second for each window.
    assert 200 <= calls <= 200 * 1.1 + 2 * 10 * windows


def test_p17_low_traffic_still_retries_transient_failures(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    """A freshly started gateway, one read at a time, each meeting two transient 503s: every
    one succeeds on its third attempt (the budget's floor, not the traffic, pays for it)."""
    gateway = make_gateway(kibo_backend("kibo", sandboxes.url("kibo")))
    kibo = sandboxes.kibo
    signed = gql(
        gateway,
        'mutation { signIn(backend: "kibo", username: "ada.lovelace@example.com", password: "kibo-demo-pass") { token { accessToken } } }',
    )["data"]["signIn"]
    token = signed["token"]["accessToken"]
    before = budget_exhausted(gateway, "kibo")
    for _ in range(6):
        kibo.journal.clear()
        kibo.faults.add("status", "accounts/current", status=503, times=2)
        body = gql(gateway, '{ me(backend: "kibo") { email } }', token=token)
        assert body["data"] == {"me": {"email": "ada.lovelace@example.com"}}, body
        assert kibo.journal.count("GET", "accounts/current") == 3
    assert budget_exhausted(gateway, "kibo") == before


def budget_exhausted(gateway: TestClient, backend: str) -> float:
    name = f'customer_gateway_retry_budget_exhausted_total{{backend="{backend}"}}'
    found = re.search(re.escape(name) + r" (\S+)", gateway.get("/metrics").text)
    return float(found.group(1)) if found else 0.0


# --- P18 circuit breaker --------------------------------------------------------------------


def test_p18_the_breaker_opens_probes_once_and_closes(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    open_s = 2.0
    gateway = make_gateway(
        menu_backend(
            "menu", sandboxes.url("menu"), extra=f"max_attempts = 1\ncircuit_open_s = {open_s}"
        )
    )
    token = menu_token(gateway)
    menu = sandboxes.menu
    menu.faults.add("status", "/customers/me", status=500, times=5)
    for _ in range(5):
        gql(gateway, '{ me(backend: "menu") { email } }', token=token)
    opened = time.monotonic()  # the breaker opened during the call that just returned
    menu.journal.clear()
    refused = 0
    # Requests while it is surely still open (however slow the machine, a quarter of the
    # interval is left over): none of them reaches the backend.
    while refused < 50 and time.monotonic() < opened + open_s * 0.75:
        body = gql(gateway, '{ me(backend: "menu") { email } }', token=token)
        assert error_codes(body) == ["BACKEND_UNAVAILABLE"]
        refused += 1
    assert refused >= 5 and menu.journal.count() == 0  # open: no call reaches the backend
    assert gql(gateway, "{ backends { name healthy } }")["data"]["backends"] == [
        {"name": "menu", "healthy": False}
    ]
    assert gateway.get("/readyz").json()["backends"] == {"menu": "circuit open"}
    metrics = gateway.get("/metrics").text
    assert 'customer_gateway_circuit_state{backend="menu",state="open"} 1.0' in metrics
    time.sleep(max(0.0, opened + open_s + 0.1 - time.monotonic()))  # the interval is over
    assert (
        gql(gateway, '{ me(backend: "menu") { email } }', token=token)["data"]["me"]["email"]
        == "ada.lovelace@example.com"
    )
    assert menu.journal.count() == 1  # exactly one probe, and it closed the breaker
    assert gql(gateway, "{ backends { healthy } }")["data"]["backends"] == [{"healthy": True}]


def test_p18_a_half_open_breaker_lets_one_probe_through_however_many_wait(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes
) -> None:
    gateway = make_live_gateway(
        menu_backend(
            "menu",
            sandboxes.url("menu"),
            extra="max_attempts = 1\ncircuit_failures = 1\ncircuit_open_s = 0.3",
        ),
        extra="[limits]\nrequests_per_token = 100000\nrequests_per_address = 100000",
    )
    token = gql(gateway.client, SIGN_IN)["data"]["signIn"]["token"]["accessToken"]
    menu = sandboxes.menu
    menu.faults.add("status", "/customers/me", status=500)
    gql(gateway.client, '{ me(backend: "menu") { email } }', token=token)  # opens the breaker
    time.sleep(0.35)  # the open interval is over: the next call is the one probe
    menu.faults.add("delay", "/customers/me", delay_s=2.0)  # a slow probe: the others wait
    menu.journal.clear()

    async def ten_at_once() -> list[list[str]]:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:

            async def one() -> list[str]:
                response = await client.post(
                    "/graphql",
                    json={"query": '{ me(backend: "menu") { email } }'},
                    headers={"Authorization": f"Bearer {token}"},
                )
                return error_codes(response.json())

            return await asyncio.gather(*(one() for _ in range(10)))

    codes = asyncio.run(ten_at_once())
    assert menu.journal.count("GET", "/customers/me") == 1
    assert sorted(codes) == [[]] + [["BACKEND_UNAVAILABLE"]] * 9


# --- P19 bad answers ------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["malformed", "html", "huge"])
def test_p19_unusable_answers_are_backend_errors(
    gateway: TestClient, sandboxes: Sandboxes, fault: str
) -> None:
    token = menu_token(gateway)
    sandboxes.menu.faults.add(fault, "/customers/me", times=3)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    body = gql(gateway, '{ me(backend: "menu") { email } }', token=token)
    assert error_codes(body) == ["BACKEND_ERROR"]
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 40  # the 50 MiB body is cut off at the 10 MiB cap, not buffered


def test_p19_the_httpx_engine_stops_reading_at_the_cap(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    """A 50 MiB streamed answer: the engine stops at 10 MiB instead of buffering it all and
    checking afterwards (memory measured while the request runs)."""
    gateway = make_gateway(
        menu_backend("menu", sandboxes.url("menu"), extra='http_engine = "httpx"')
    )
    token = menu_token(gateway)
    sandboxes.menu.faults.add("huge", "/customers/me")
    tracemalloc.start()
    try:
        body = gql(gateway, '{ me(backend: "menu") { email } }', token=token)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error_codes(body) == ["BACKEND_ERROR"]
    assert peak < 30 * 1024 * 1024, f"{peak / 2**20:.0f} MiB held"


# --- P20 connection faults do not leak the pool -----------------------------------------------


def test_p20_faults_do_not_leak_the_pool(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes
) -> None:
    gateway = make_live_gateway(
        extra="[limits]\nrequests_per_token = 100000\nrequests_per_address = 100000",
        backends=menu_backend(
            "menu",
            sandboxes.url("menu"),
            extra="timeout_s = 0.3\nmax_attempts = 1\ncircuit_failures = 100000",
        ),
    )
    token = gql(gateway.client, SIGN_IN)["data"]["signIn"]["token"]["accessToken"]
    menu = sandboxes.menu
    menu.faults.add("drop", "/customers/me", times=10_000, probability=0.2)
    menu.faults.add("hang", "/customers/me", times=10_000, probability=0.1)
    menu.faults.add("status", "/customers/me", status=502, times=10_000, probability=0.1)
    query = {"query": '{ me(backend: "menu") { email } }'}
    headers = {"Authorization": f"Bearer {token}"}

    async def fire(count: int) -> list[dict[str, object]]:
        limit = asyncio.Semaphore(32)
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:

            async def one() -> dict[str, object]:
                async with limit:
                    response = await client.post("/graphql", json=query, headers=headers)
                    assert response.status_code == 200
                    return response.json()  # type: ignore[no-any-return]

            return await asyncio.gather(*(one() for _ in range(count)))

    faulted = asyncio.run(fire(300))
    codes = {e["extensions"]["code"] for body in faulted for e in body.get("errors", [])}  # type: ignore[attr-defined]
    assert codes <= {"BACKEND_UNAVAILABLE", "BACKEND_ERROR"}
    menu.faults.clear()
    started = time.monotonic()
    normal = asyncio.run(fire(100))
    assert all("errors" not in body for body in normal)
    assert time.monotonic() - started < 10


# --- P21 partial failure ------------------------------------------------------------------


def test_p21_one_backend_down_fails_only_its_fields(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    from support.live import free_port

    gateway = make_gateway(
        menu_backend("menu", sandboxes.url("menu"))
        + kibo_backend("kibo", f"http://127.0.0.1:{free_port()}/api", extra="max_attempts = 1")
    )
    token = menu_token(gateway)
    for _ in range(5):
        gql(
            gateway,
            'mutation { signIn(backend: "kibo", username: "a", password: "b") { userErrors { code } } }',
        )
    body = gql(gateway, '{ backends { name healthy } me(backend: "menu") { email } }', token=token)
    assert body["data"]["me"]["email"] == "ada.lovelace@example.com"
    assert {b["name"]: b["healthy"] for b in body["data"]["backends"]} == {
        "menu": True,
        "kibo": False,
    }
    assert gateway.get("/readyz").status_code == 200
