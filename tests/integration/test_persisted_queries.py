"""Automatic persisted queries: Apollo's handshake over POST and GET, refusals, limits, and a
hash registered on one replica answered by another through Redis."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import GatewayFactory, LiveGatewayFactory, Sandboxes, menu_backend
from customer_gateway.api.persisted import MAX_PERSISTED_BYTES
from support.graphql import gql

QUERY = "query Backends { backends { name kind } }"
DIGEST = hashlib.sha256(QUERY.encode()).hexdigest()


def persisted(digest: str = DIGEST, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


@pytest.fixture
def client(make_gateway: GatewayFactory, sandboxes: Sandboxes) -> TestClient:
    return make_gateway(menu_backend("menu", sandboxes.url("menu")))


def post(client: TestClient, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.post("/graphql", json=body)
    return response.status_code, response.json()


def test_the_handshake_registers_then_runs_the_hash_alone(client: TestClient) -> None:
    status, body = post(client, {"extensions": persisted()})
    assert status == 200
    assert body["errors"][0]["message"] == "PersistedQueryNotFound"
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    expected = {"data": {"backends": [{"name": "menu", "kind": "MENU"}]}}
    assert post(client, {"query": QUERY, "extensions": persisted()}) == (200, expected)
    assert post(client, {"extensions": persisted()}) == (200, expected)
    assert post(client, {"extensions": persisted(DIGEST.upper())}) == (200, expected)


def test_a_hash_that_does_not_match_its_document_is_refused_and_not_kept(
    client: TestClient,
) -> None:
    other = hashlib.sha256(b"{ __typename }").hexdigest()
    status, body = post(client, {"query": QUERY, "extensions": persisted(other)})
    assert status == 400
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    assert "data" not in body
    status, body = post(client, {"extensions": persisted(other)})
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    "extension",
    [persisted(version=2), {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}],
)
def test_unknown_versions_and_malformed_hashes_are_bad_requests(
    client: TestClient, extension: dict[str, Any]
) -> None:
    status, body = post(client, {"query": QUERY, "extensions": extension})
    assert status == 400 and body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_get_runs_a_registered_query_but_never_a_mutation(client: TestClient) -> None:
    post(client, {"query": QUERY, "extensions": persisted()})
    params = {"extensions": json.dumps(persisted())}
    headers = {"apollo-require-preflight": "true", "accept": "application/json"}  # (CSRF)
    response = client.get("/graphql", params=params, headers=headers)
    assert response.json() == {"data": {"backends": [{"name": "menu", "kind": "MENU"}]}}
    mutation = 'mutation { refreshToken(backend: "menu") { userErrors { code } } }'
    digest = hashlib.sha256(mutation.encode()).hexdigest()
    post(client, {"query": mutation, "extensions": persisted(digest)})
    params = {"extensions": json.dumps(persisted(digest))}
    refused = client.get("/graphql", params=params, headers=headers)
    assert refused.status_code in (400, 405) and "data" not in refused.json()


def test_documents_over_the_size_limit_are_refused_and_not_kept(client: TestClient) -> None:
    big = QUERY + " " * MAX_PERSISTED_BYTES
    digest = hashlib.sha256(big.encode()).hexdigest()
    _, body = post(client, {"query": big, "extensions": persisted(digest)})
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    _, body = post(client, {"extensions": persisted(digest)})
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_turned_off_the_gateway_says_so(make_gateway: GatewayFactory, sandboxes: Sandboxes) -> None:
    client = make_gateway(
        menu_backend("menu", sandboxes.url("menu")), gateway="persisted_queries = false"
    )
    status, body = post(client, {"query": QUERY, "extensions": persisted()})
    assert status == 200
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"
    assert "data" not in body
    assert gql(client, QUERY)["data"]["backends"][0]["name"] == "menu"  # plain requests run


def test_a_hash_registered_on_one_replica_runs_on_another(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes, redis_url: str
) -> None:
    backends = menu_backend("menu", sandboxes.url("menu"))
    shared = f'[store]\nurl = "{redis_url}"\n[otp]\nsecret = "shared-otp-secret-0123456789"\n'
    a = make_live_gateway(backends, extra=shared)
    b = make_live_gateway(backends, extra=shared)
    registered = a.client.post("/graphql", json={"query": QUERY, "extensions": persisted()})
    assert registered.json()["data"]["backends"][0]["name"] == "menu"
    answered = b.client.post("/graphql", json={"extensions": persisted()})
    assert answered.json() == {"data": {"backends": [{"name": "menu", "kind": "MENU"}]}}
