"""The store is a dependency, not a single point of failure: a real redis-server is killed,
frozen (SIGSTOP) and restarted while requests flow, and only what needs it fails."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from conftest import (
    ADMIN_KEY,
    LiveGateway,
    LiveGatewayFactory,
    Sandboxes,
    kibo_backend,
    loyalty_backend,
    menu_backend,
)
from customer_gateway.store.guard import RETRY_AFTER_S
from support.graphql import gql
from support.redis_server import RedisProcess

STORE_TIMEOUT_S = 0.25
ANSWER_BOUND_S = 1.0  # every request, whatever the store does (four times the store timeout)

CONFIG = """
[store]
url = "{url}"
timeout_s = {timeout}
[otp]
secret = "shared-otp-secret-0123456789"
[limits]
requests_per_address = 100000
requests_per_token = 100000
"""
MENU_SIGN_IN = 'mutation { signIn(backend: "menu", username: "ada.lovelace@example.com", password: "menu-demo-pass") { token { accessToken } customer { email } userErrors { code } } }'
KIBO_SIGN_IN = 'mutation { signIn(backend: "kibo", username: "ada.lovelace@example.com", password: "kibo-demo-pass") { token { accessToken refreshToken } customer { id } userErrors { code } } }'
KIBO_REFRESH = 'mutation($r: String!) { refreshToken(backend: "kibo", refreshToken: $r) { token { accessToken } userErrors { code } } }'
OTP_CONFIRM = (
    'mutation($id: ID!) { confirmEmailChange(id: $id, code: "000000") { userErrors { code } } }'
)


@dataclass(frozen=True)
class Operation:
    name: str
    query: str
    variables: dict[str, Any]
    headers: dict[str, str]
    needs_store: bool = False


@dataclass(frozen=True)
class Answer:
    operation: Operation
    started: float
    seconds: float
    status: int
    body: dict[str, Any]
    request_id: str | None


class Traffic:
    """A few clients sending a fixed mix of operations in a loop; every answer is kept."""

    def __init__(self, url: str, operations: list[Operation], clients: int = 4) -> None:
        self.url = url
        self.operations = operations
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)
        ]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, offset: int) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            i = offset
            while not self._stop.is_set():
                operation = self.operations[i % len(self.operations)]
                i += 1
                started = time.monotonic()
                response = client.post(
                    "/graphql",
                    json={"query": operation.query, "variables": operation.variables},
                    headers=operation.headers,
                )
                answer = Answer(
                    operation,
                    started,
                    time.monotonic() - started,
                    response.status_code,
                    response.json(),  # a GraphQL body, or this raises and the test fails
                    response.headers.get("x-request-id"),
                )
                with self._lock:
                    self.answers.append(answer)

    def since(self, moment: float) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.started >= moment]

    def wait_for(self, count: int, after: float, timeout: float = 20.0) -> list[Answer]:
        """At least `count` answers to requests sent after `after` (bounded wait)."""
        deadline = time.monotonic() + timeout
        while len(answers := self.since(after)) < count:
            assert time.monotonic() < deadline, f"only {len(answers)} answers in {timeout} s"
            time.sleep(0.02)
        return answers


@dataclass
class Setup:
    gateway: LiveGateway
    operations: list[Operation]
    kibo_refresh_token: str


@pytest.fixture
def redis_process() -> Iterator[RedisProcess]:
    server = RedisProcess()
    server.start()
    yield server
    server.stop()


def setup(
    make: LiveGatewayFactory,
    sandboxes: Sandboxes,
    redis: RedisProcess,
    store_timeout_s: float = STORE_TIMEOUT_S,
) -> Setup:
    gateway = make(
        menu_backend("menu", sandboxes.url("menu"))
        + kibo_backend("kibo", sandboxes.url("kibo"))
        + loyalty_backend("loyalty", sandboxes.url("loyalty")),
        extra=CONFIG.format(url=redis.url, timeout=store_timeout_s),
    )
    menu_token = gql(gateway.client, MENU_SIGN_IN)["data"]["signIn"]["token"]["accessToken"]
    kibo = gql(gateway.client, KIBO_SIGN_IN)["data"]["signIn"]
    kibo_token, kibo_id = kibo["token"]["accessToken"], kibo["customer"]["id"]
    admin = {"X-Api-Key": ADMIN_KEY}
    operations = [
        Operation("backends", "{ backends { name } }", {}, {}),
        Operation("levels", '{ levels(backend: "loyalty") { name } }', {}, {}),
        Operation("sign_in", MENU_SIGN_IN, {}, {}),
        Operation(
            "me",
            '{ me(backend: "menu") { email } }',
            {},
            {"Authorization": f"Bearer {menu_token}"},
        ),
        Operation(
            "customer",
            "query($id: ID!) { customer(id: $id) { email } }",
            {"id": kibo_id},
            admin,
        ),
        Operation(
            "customers", '{ customers(backend: "loyalty", first: 2) { totalCount } }', {}, admin
        ),
        Operation(
            "admin_mutation",
            "mutation($id: ID!) { activateCustomer(id: $id) { customer { active } } }",
            {"id": kibo_id},
            admin,
        ),
        Operation(
            "otp",
            OTP_CONFIRM,
            {"id": kibo_id},
            {"Authorization": f"Bearer {kibo_token}"},
            needs_store=True,
        ),
    ]
    return Setup(gateway, operations, kibo["token"]["refreshToken"])


def assert_well_formed(answer: Answer) -> None:
    """Whatever happened: a GraphQL body, every error with a documented code, a request id."""
    assert answer.request_id, answer
    assert "data" in answer.body or "errors" in answer.body, answer
    assert all(e.get("extensions", {}).get("code") for e in answer.body.get("errors", [])), answer


def assert_store_not_needed_or_refused(answers: list[Answer]) -> None:
    """Everything that does not need the store worked; what needs it said so, and only that."""
    for answer in answers:
        assert_well_formed(answer)
        assert answer.status == 200, answer
        if answer.operation.needs_store:
            errors = answer.body["errors"]
            assert [(e["extensions"]["code"], e["extensions"].get("backend")) for e in errors] == [
                ("BACKEND_UNAVAILABLE", "store")
            ], answer
        else:
            assert "errors" not in answer.body, answer


def assert_all_worked(answers: list[Answer]) -> None:
    for answer in answers:
        assert_well_formed(answer)
        assert answer.status == 200 and "errors" not in answer.body, answer
        if answer.operation.needs_store:
            assert answer.body["data"]["confirmEmailChange"]["userErrors"] == [
                {"code": "NO_PENDING_CHANGE"}
            ], answer


def fallbacks(gateway: LiveGateway) -> float:
    text = gateway.client.get("/metrics").text
    match = re.search(r'customer_gateway_store_fallbacks_total\{use="rate_limit"\} (\S+)', text)
    return float(match.group(1)) if match else 0.0


def outage_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "customer_gateway.store" and r.getMessage().startswith("store unavailable")
    ]


def timed_readyz(gateway: LiveGateway) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = gateway.client.get("/readyz")
    return time.monotonic() - started, response


# --- kill -9 --------------------------------------------------------------------------------


def test_a_killed_store_fails_only_what_needs_it(
    make_live_gateway: LiveGatewayFactory,
    sandboxes: Sandboxes,
    redis_process: RedisProcess,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="customer_gateway.store")
    ready = setup(make_live_gateway, sandboxes, redis_process)
    with Traffic(ready.gateway.url, ready.operations) as traffic:
        assert_all_worked(traffic.wait_for(16, after=0))
        redis_process.kill()
        killed = time.monotonic()
        answers = traffic.wait_for(80, after=killed)
    slowest = max(answers, key=lambda a: a.seconds)
    print(f"store killed: {len(answers)} answers, slowest {slowest.seconds:.3f} s")
    assert slowest.seconds < ANSWER_BOUND_S, slowest
    assert_store_not_needed_or_refused(answers)
    assert {a.operation.name for a in answers} == {o.name for o in ready.operations}
    refreshed = gql(ready.gateway.client, KIBO_REFRESH, {"r": ready.kibo_refresh_token})["data"][
        "refreshToken"
    ]
    assert refreshed["userErrors"] == [] and refreshed["token"]["accessToken"]
    seconds, readiness = timed_readyz(ready.gateway)
    assert readiness.status_code == 503 and readiness.json()["store"] == "unreachable"
    assert seconds < ANSWER_BOUND_S
    assert len(outage_logs(caplog)) == 1  # once per outage, not once per request
    assert outage_logs(caplog)[0].error == "ConnectionError"  # type: ignore[attr-defined]
    assert fallbacks(ready.gateway) > 0  # rate limits were counted in the process meanwhile


# --- SIGSTOP --------------------------------------------------------------------------------


def test_a_frozen_store_costs_at_most_its_timeout(
    make_live_gateway: LiveGatewayFactory,
    sandboxes: Sandboxes,
    redis_process: RedisProcess,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="customer_gateway.store")
    ready = setup(make_live_gateway, sandboxes, redis_process)
    try:
        with Traffic(ready.gateway.url, ready.operations) as traffic:
            assert_all_worked(traffic.wait_for(16, after=0))
            redis_process.freeze()
            frozen = time.monotonic()
            answers = traffic.wait_for(80, after=frozen)
            seconds, readiness = timed_readyz(ready.gateway)
            redis_process.thaw()
            thawed = time.monotonic()
            # Back once the next probe finds it (RETRY_AFTER_S after the last failure).
            deadline = thawed + RETRY_AFTER_S + 10
            while not [
                a for a in traffic.since(thawed) if a.operation.needs_store and a.body.get("data")
            ]:
                assert time.monotonic() < deadline, "the store never came back"
                time.sleep(0.05)
            recovered = time.monotonic()
            after = traffic.wait_for(24, after=recovered)
    finally:
        redis_process.thaw()
    slowest = max(answers, key=lambda a: a.seconds)
    print(
        f"store frozen: {len(answers)} answers, slowest {slowest.seconds:.3f} s,"
        f" /readyz {seconds:.3f} s"
    )
    assert slowest.seconds < ANSWER_BOUND_S, slowest
    assert readiness.status_code == 503 and seconds < ANSWER_BOUND_S
    assert_store_not_needed_or_refused(answers)
    assert_all_worked(after)
    logs = [r.getMessage() for r in caplog.records if r.name == "customer_gateway.store"]
    assert logs[0].startswith("store unavailable") and logs[-1] == "store available again"
    assert len(outage_logs(caplog)) == 1


# --- restart --------------------------------------------------------------------------------


def test_a_restart_leaves_no_stale_connection_behind(
    make_live_gateway: LiveGatewayFactory,
    sandboxes: Sandboxes,
    redis_process: RedisProcess,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Pooled connections to the old server are retried once on a fresh one: a planned restart
    between two bursts of traffic is invisible to clients."""
    caplog.set_level(logging.INFO, logger="customer_gateway.store")
    ready = setup(make_live_gateway, sandboxes, redis_process)
    with Traffic(ready.gateway.url, ready.operations, clients=8) as traffic:
        assert_all_worked(traffic.wait_for(64, after=0))  # several pooled connections
    redis_process.kill()
    redis_process.start()
    before = fallbacks(ready.gateway)
    restarted = time.monotonic()
    with Traffic(ready.gateway.url, ready.operations, clients=8) as traffic:
        answers = traffic.wait_for(64, after=restarted)
    assert_all_worked(answers)
    assert fallbacks(ready.gateway) == before
    assert outage_logs(caplog) == []


def test_a_restart_while_requests_flow(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes, redis_process: RedisProcess
) -> None:
    # What is tested here is the recovery, not how soon a call gives up: on a loaded machine
    # the event loop alone can stall past 0.25 s, and a probe that times out then puts the
    # next one a second later.
    store_timeout_s = 1.0
    ready = setup(make_live_gateway, sandboxes, redis_process, store_timeout_s)
    with Traffic(ready.gateway.url, ready.operations) as traffic:
        assert_all_worked(traffic.wait_for(16, after=0))
        down = time.monotonic()
        redis_process.kill()
        traffic.wait_for(16, after=down)
        redis_process.start()
        settled = store_back(ready.gateway)
        after = traffic.wait_for(40, after=settled)
        during = [a for a in traffic.since(down) if a.started < settled]
    assert_store_not_needed_or_refused([a for a in during if not a.operation.needs_store])
    for answer in during:
        assert_well_formed(answer)
        assert answer.seconds < 4 * store_timeout_s
    assert_all_worked(after)


def store_back(gateway: LiveGateway, timeout: float = 20.0) -> float:
    """When the gateway's own probe found the store again (its readiness goes through it)."""
    deadline = time.monotonic() + timeout
    while gateway.client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the store did not come back"
        time.sleep(0.05)
    return time.monotonic()


# --- what degrades, and how ---------------------------------------------------------------------


def test_while_the_store_is_out_rate_limits_count_in_the_process(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes, redis_process: RedisProcess
) -> None:
    gateway = make_live_gateway(
        menu_backend("menu", sandboxes.url("menu")),
        extra=CONFIG.format(url=redis_process.url, timeout=STORE_TIMEOUT_S).replace(
            "requests_per_address = 100000", "requests_per_address = 5"
        ),
    )
    redis_process.kill()
    statuses = [
        gateway.client.post("/graphql", json={"query": "{ backends { name } }"}).status_code
        for _ in range(6)
    ]
    assert statuses == [200] * 5 + [429]


def test_while_the_store_is_out_persisted_queries_miss(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes, redis_process: RedisProcess
) -> None:
    gateway = make_live_gateway(
        menu_backend("menu", sandboxes.url("menu")),
        extra=CONFIG.format(url=redis_process.url, timeout=STORE_TIMEOUT_S),
    )
    query = "{ backends { name } }"
    extensions = {
        "persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}
    }
    registered = gateway.client.post("/graphql", json={"query": query, "extensions": extensions})
    assert registered.json() == {"data": {"backends": [{"name": "menu"}]}}
    redis_process.kill()
    missed = gateway.client.post("/graphql", json={"extensions": extensions})
    assert missed.status_code == 200
    assert missed.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    resent = gateway.client.post("/graphql", json={"query": query, "extensions": extensions})
    assert resent.json() == {"data": {"backends": [{"name": "menu"}]}}  # the APQ handshake
