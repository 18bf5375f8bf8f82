"""Trust rule: work is bounded before it is done.

Documents over the byte limit are refused before any parsing, a document is parsed at most once
per request, the document cache is bounded in bytes, and `_entities` takes a bounded number of
representations, each checked before anything resolves it. Attacks as they were sent, without
credentials, with what they cost measured: latency of a harmless request meanwhile, and memory.
"""

from __future__ import annotations

import hashlib
import json
import random
import statistics
import threading
import time
import tracemalloc
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from conftest import (
    ADMIN_KEY,
    GatewayFactory,
    LiveGateway,
    LiveGatewayFactory,
    Sandboxes,
    kibo_backend,
    loyalty_backend,
)
from customer_gateway.domain import encode_customer_id
from support.graphql import error_codes, gql

NO_LIMITS = "[limits]\nrequests_per_address = 100000\nrequests_per_token = 100000"
ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { id email } } }"


@pytest.fixture
def gateway(make_gateway: GatewayFactory, sandboxes: Sandboxes) -> TestClient:
    return make_gateway(
        kibo_backend("kibo", sandboxes.url("kibo"), extra='loyalty = "loyalty"')
        + loyalty_backend("loyalty", sandboxes.url("loyalty")),
        extra=NO_LIMITS,
    )


def failing_document(size: int) -> str:
    """Almost all of it one string literal, and an error at the very end: the most expensive
    document to refuse after parsing (the parser reads all of it first)."""
    return '{ backends(x: "' + "a" * (size - 40) + '") { name } '


def traced(run: Any) -> int:
    """Bytes of Python memory still held after `run`, once transient garbage is collected."""
    import gc

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run()
        gc.collect()
        return int(tracemalloc.get_traced_memory()[0] - before)
    finally:
        tracemalloc.stop()


def test_a_large_document_is_refused_before_parsing(gateway: TestClient) -> None:
    body = gql(gateway, failing_document(1_990_000))
    assert body["data"] is None
    assert error_codes(body) == ["GRAPHQL_PARSE_FAILED"]
    assert body["errors"][0]["message"] == "The document is larger than 65536 bytes."
    at_the_limit = "{ backends { name } }" + " " * (65536 - 21)
    assert gql(gateway, at_the_limit)["data"]["backends"][0]["name"] == "kibo"


def test_the_limit_is_configurable(make_gateway: GatewayFactory, sandboxes: Sandboxes) -> None:
    small = make_gateway(
        kibo_backend("kibo", sandboxes.url("kibo")),
        extra="[limits]\nmax_document_bytes = 1024",
    )
    assert error_codes(gql(small, "{ backends { name } }" + " " * 1024)) == ["GRAPHQL_PARSE_FAILED"]
    assert "errors" not in gql(small, "{ backends { name } }")


def test_hundreds_of_large_or_distinct_documents_hold_memory_in_check(
    gateway: TestClient,
) -> None:
    """Large refused documents leave nothing behind; distinct large documents that parse are
    cached within the cache's byte budget (4 MiB), not one full copy each."""
    gql(gateway, "{ __typename }")  # the gateway's own start-up allocations, done

    def attack() -> None:
        for i in range(200):
            assert error_codes(gql(gateway, failing_document(1_990_000 - i))) == [
                "GRAPHQL_PARSE_FAILED"
            ]
        for i in range(200):  # each one parses, and is under the byte limit: cached
            document = f"query Q{i} {{ __typename }}" + " " * 60_000
            assert gql(gateway, document)["data"] == {"__typename": "Query"}

    grown = traced(attack)
    assert grown < 6 * 1024 * 1024, grown  # the cache's 4 MiB, plus bookkeeping


@pytest.fixture
def live(make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes) -> LiveGateway:
    return make_live_gateway(kibo_backend("kibo", sandboxes.url("kibo")), extra=NO_LIMITS)


def test_large_documents_do_not_slow_other_clients(live: LiveGateway) -> None:
    """Four clients posting 1.99 MB documents in a loop; a fifth asks `{ __typename }`."""
    attack = json.dumps({"query": failing_document(1_990_000)})
    stop = threading.Event()
    refused: list[int] = []

    def attacker() -> None:
        with httpx.Client(base_url=live.url, timeout=30) as client:
            while not stop.is_set():
                response = client.post(
                    "/graphql", content=attack, headers={"Content-Type": "application/json"}
                )
                refused.append(response.status_code)

    threads = [threading.Thread(target=attacker) for _ in range(4)]
    for thread in threads:
        thread.start()
    latencies: list[float] = []
    try:
        with httpx.Client(base_url=live.url, timeout=30) as probe:
            while len(refused) < 8:  # the attack is under way
                time.sleep(0.01)
            for _ in range(20):
                started = time.perf_counter()
                answer = probe.post("/graphql", json={"query": "{ __typename }"})
                latencies.append(time.perf_counter() - started)
                assert answer.json() == {"data": {"__typename": "Query"}}
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert set(refused) == {200}
    # Parsed three times, each such document held the event loop for about 1.2 s, and the
    # median of this probe was 2.3 s; refused unparsed, it costs a JSON decode.
    assert statistics.median(latencies) < 0.5, latencies


# --- _entities -------------------------------------------------------------------------------


def test_entities_takes_at_most_the_configured_number_of_representations(
    gateway: TestClient, sandboxes: Sandboxes
) -> None:
    many = [{"__typename": "Customer", "id": encode_customer_id("kibo", "1001")}] * 30_000
    sandboxes.kibo.journal.clear()
    body = gql(gateway, ENTITIES, {"r": many})
    assert body["data"] is None and error_codes(body) == ["BAD_USER_INPUT"]
    assert sandboxes.kibo.journal.entries == []
    hundred = [
        {"__typename": "Customer", "id": encode_customer_id("kibo", str(1001 + i % 27))}
        for i in range(100)
    ]
    answered = gql(gateway, ENTITIES, {"r": hundred}, admin_key=ADMIN_KEY)
    assert "errors" not in answered and len(answered["data"]["_entities"]) == 100
    refused = gql(gateway, ENTITIES, {"r": [*hundred, hundred[0]]}, admin_key=ADMIN_KEY)
    assert error_codes(refused) == ["BAD_USER_INPUT"]


def test_malformed_representations_are_bad_user_input_at_their_index(
    gateway: TestClient,
) -> None:
    good = {"__typename": "Customer", "id": encode_customer_id("kibo", "1001")}
    odd: list[Any] = [
        {**good, "email": "extra@example.com"},  # was a TypeError
        {"__typename": "Query", "id": "x"},
        {"__typename": "Customer"},
        {"id": good["id"]},
        {"__typename": "Customer", "id": 1001},
        "Customer:1001",
        [good],
    ]
    body = gql(gateway, ENTITIES, {"r": [good, *odd]}, admin_key=ADMIN_KEY)
    assert body["data"]["_entities"][0]["email"]
    paths = {tuple(e["path"]): e["extensions"]["code"] for e in body["errors"]}
    assert paths == {("_entities", i): "BAD_USER_INPUT" for i in range(1, len(odd) + 1)}


def test_two_entities_fields_share_their_variables_safely(gateway: TestClient) -> None:
    """Strawberry's own resolver popped `__typename` out of the shared variables: the second
    field then raised KeyError (INTERNAL)."""
    document = "query($r: [_Any!]!) { a: _entities(representations: $r) { ... on Customer { id } } b: _entities(representations: $r) { ... on Customer { id } } }"
    good = {"__typename": "Customer", "id": encode_customer_id("kibo", "1001")}
    body = gql(gateway, document, {"r": [good]}, admin_key=ADMIN_KEY)
    assert "errors" not in body
    assert body["data"]["a"] == body["data"]["b"] == [{"id": good["id"]}]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=6,
)
representations = st.lists(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"__typename": st.sampled_from(["Customer", "Query", "_Entity", ""]), "id": json_values}
        ),
        st.builds(
            lambda backend, native: {
                "__typename": "Customer",
                "id": encode_customer_id(backend, native),
            },
            st.sampled_from(["kibo", "loyalty", "menu", "nope"]),
            st.text(min_size=1, max_size=12),
        ),
    ),
    max_size=6,
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(r=representations, admin=st.booleans())
def test_no_representation_is_an_internal_error(
    gateway: TestClient, r: list[Any], admin: bool
) -> None:
    body = gql(gateway, ENTITIES, {"r": r}, admin_key=ADMIN_KEY if admin else None)
    assert "INTERNAL" not in error_codes(body), body


def test_persisted_queries_keep_only_documents_that_would_run(gateway: TestClient) -> None:
    """Registration used to store whatever came with a matching hash, before any parsing: 100
    requests of 64 KB garbage put 6.6 MB into Redis, kept for a week and served back."""

    def register(document: str) -> dict[str, Any]:
        digest = hashlib.sha256(document.encode()).hexdigest()
        extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
        sent = gateway.post("/graphql", json={"query": document, "extensions": extensions})
        assert sent.status_code == 200
        again = gateway.post("/graphql", json={"extensions": extensions}).json()
        return {"sent": sent.json(), "again": again}

    for document in (f"#{random.random()}" + "x" * 60_000, "{ nope }", "{ backends { name "):
        seen = register(document)
        assert seen["sent"]["data"] is None
        assert error_codes(seen["again"]) == ["PERSISTED_QUERY_NOT_FOUND"]
    kept = register("{ backends { name } }")
    assert (
        kept["again"]["data"]
        == kept["sent"]["data"]
        == {"backends": [{"name": "kibo"}, {"name": "loyalty"}]}
    )


@pytest.mark.parametrize("body", ["null", "5", '"x"', "true", "[]"])
def test_a_json_body_that_is_not_an_object_is_a_bad_request(gateway: TestClient, body: str) -> None:
    response = gateway.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_REQUEST"]


def test_client_values_too_long_for_a_url_are_refused(
    gateway: TestClient, sandboxes: Sandboxes
) -> None:
    """Seventy thousand characters in a query value: httpx refuses to build the URL
    (InvalidURL, no HTTPError), which was INTERNAL."""
    long = "x" * 70_000
    refreshed = gql(
        gateway,
        'mutation($t: String) { refreshToken(backend: "kibo", refreshToken: $t) { userErrors { code } } }',
        {"t": long},
    )
    assert refreshed["data"]["refreshToken"]["userErrors"] == [{"code": "INVALID_TOKEN"}]
    for backend in ("kibo", "loyalty"):
        listed = gql(
            gateway,
            "query($b: String!, $n: String) { customers(backend: $b, filter: {lastName: $n}) { totalCount } }",
            {"b": backend, "n": long},
            admin_key=ADMIN_KEY,
        )
        assert error_codes(listed) == ["BAD_USER_INPUT"]
    assert [e for e in sandboxes.kibo.journal.entries if "oauth" not in e.path] == []


def test_a_document_with_several_operations_needs_a_name(gateway: TestClient) -> None:
    body = gql(gateway, "query A { __typename } query B { backends { name } }")
    assert body["data"] is None and error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    named = gateway.post(
        "/graphql",
        json={
            "query": "query A { __typename } query B { backends { name } }",
            "operationName": "B",
        },
    ).json()
    assert named["data"]["backends"]


def test_variables_are_bounded_before_graphql_core_coerces_them(
    gateway: TestClient, sandboxes: Sandboxes
) -> None:
    """900,000 values in a 1.8 MB body: coercing them held the event loop for 750 ms before
    `_entities` refused the list."""
    body = gql(gateway, ENTITIES, {"r": [0] * 900_000})
    assert body["data"] is None and error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["message"] == "The variables hold more than 1000 values."
    nested = {"r": [{"__typename": "Customer", "id": "x", "deep": [[0] * 400] * 3}]}
    assert error_codes(gql(gateway, ENTITIES, nested)) == ["BAD_USER_INPUT"]
    assert sandboxes.kibo.journal.entries == []
