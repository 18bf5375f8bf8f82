"""Operation limits hold for every operation, introspection included, and cost linear time:
fragments that spread each other cannot turn a small document into minutes of validation."""

from __future__ import annotations

import httpx
import pytest
from graphql import get_introspection_query
from starlette.testclient import TestClient

from conftest import GatewayFactory, LiveGatewayFactory, Sandboxes, menu_backend
from support.graphql import error_codes, gql


@pytest.fixture
def open_gateway(make_gateway: GatewayFactory, sandboxes: Sandboxes) -> TestClient:
    return make_gateway(menu_backend("menu", sandboxes.url("menu")))  # introspection on


def test_the_depth_limit_holds_for_introspection(open_gateway: TestClient) -> None:
    nested = "name"
    for _ in range(50):
        nested = f"ofType {{ {nested} }}"
    deep = f"{{ __schema {{ types {{ fields {{ type {{ {nested} }} }} }} }} }}"
    body = gql(open_gateway, deep)
    assert body["data"] is None
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "exceeds maximum operation depth of 15" in body["errors"][0]["message"]


def test_graphiqls_introspection_query_still_fits(open_gateway: TestClient) -> None:
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    body = gql(open_gateway, query)
    assert "errors" not in body and body["data"]["__schema"]["queryType"]["name"] == "Query"


def test_a_spread_of_an_unknown_fragment_is_a_validation_error(open_gateway: TestClient) -> None:
    """Strawberry's depth limiter looked the fragment up before graphql-core's own rule
    reported it: a KeyError, and an HTTP 500 in plain text."""
    for document in ("{ ...Nope }", "query { __typename ...Nope }", "{ backends { ...Nope } }"):
        response = open_gateway.post("/graphql", json={"query": document})
        assert response.status_code == 200
        assert error_codes(response.json()) == ["GRAPHQL_VALIDATION_FAILED"]


def fragment_bomb(levels: int, fan_out: int) -> str:
    """Fragment i spreads fragment i+1 `fan_out` times: fan_out ** levels expansions."""
    fragments = []
    for i in range(levels):
        body = " ".join(f"...F{i + 1}" for _ in range(fan_out)) if i < levels - 1 else "__typename"
        fragments.append(f"fragment F{i} on Query {{ {body} }}")
    return "query Bomb { ...F0 } " + " ".join(fragments)


def test_fragments_spreading_each_other_are_measured_once_each(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes
) -> None:
    """30 ** 7 expansions in a 1.5 KB document: minutes for a limiter that expands spreads
    anew at every use (as Strawberry's depth and alias limiters do); here each fragment is
    measured once, and the repeats are refused before graphql-core's own rules compare them
    pairwise. The client gives up well before a re-expanding limiter would finish."""
    gateway = make_live_gateway(menu_backend("menu", sandboxes.url("menu")))
    document = fragment_bomb(levels=8, fan_out=30)
    assert len(document) < 2000
    answer = httpx.post(f"{gateway.url}/graphql", json={"query": document}, timeout=30).json()
    assert answer["data"] is None
    assert f"selected {30**7} times" in answer["errors"][0]["message"]
    aliased = fragment_bomb(levels=8, fan_out=30).replace("__typename", "a: __typename")
    refused = httpx.post(f"{gateway.url}/graphql", json={"query": aliased}, timeout=30).json()
    assert refused["data"] is None and "aliases found" in refused["errors"][1]["message"]
    small = fragment_bomb(levels=2, fan_out=10)  # ten repeats: merged, and answered
    assert httpx.post(f"{gateway.url}/graphql", json={"query": small}, timeout=30).json() == {
        "data": {"__typename": "Query"}
    }


def test_repeats_of_a_field_are_refused_before_they_are_compared(
    open_gateway: TestClient,
) -> None:
    """480 repeats of one field in an 11 KB document held the event loop about a second
    (graphql-core compares merged fields pairwise) and left 500,000 objects of garbage."""
    document = "# a comment that defeats any cache\n{ " + "backends { __typename } " * 480 + "}"
    body = gql(open_gateway, document)
    assert body["data"] is None and error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert body["errors"][0]["message"] == (
        "A field is selected 480 times in one selection set. Allowed: 10"
    )
    assert len(body["errors"]) == 1  # refused before the other rules ran


def test_one_sign_in_per_document(open_gateway: TestClient, sandboxes: Sandboxes) -> None:
    """Ten aliased signIn fields were ten password guesses for one request."""
    guesses = " ".join(
        f'g{i}: signIn(backend: "menu", username: "ada.lovelace@example.com", password: "guess{i}") {{ userErrors {{ code }} }}'
        for i in range(2)
    )
    body = gql(open_gateway, f"mutation {{ {guesses} }}")
    assert body["data"] is None
    assert body["errors"][0]["message"] == "At most one sign-in or code confirmation per request."
    assert sandboxes.menu.journal.entries == []
