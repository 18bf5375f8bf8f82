"""The gateway as an Apollo Federation 2 subgraph: its SDL and `_entities` for Customer."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from conftest import ADMIN_KEY, Sandboxes
from customer_gateway.domain import encode_customer_id
from support.graphql import gql

ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { id email loyalty { points } } } }"


def reps(*ids: str) -> list[dict[str, str]]:
    return [{"__typename": "Customer", "id": i} for i in ids]


def test_service_sdl_carries_link_and_key(kibo_gateway: TestClient) -> None:
    sdl = gql(kibo_gateway, "{ _service { sdl } }")["data"]["_service"]["sdl"]
    assert '@link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])' in sdl
    assert 'type Customer @key(fields: "id")' in sdl


def test_fifty_representations_cost_one_batched_read(
    kibo_gateway: TestClient, sandboxes: Sandboxes
) -> None:
    kibo = sandboxes.kibo
    ids = [encode_customer_id("kibo", str(n)) for n in range(1001, 1028)]
    ids += [encode_customer_id("kibo", str(n)) for n in range(1001, 1024)]  # 23 repeats
    kibo.journal.clear()
    body = gql(
        kibo_gateway,
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { id email } } }",
        {"r": reps(*ids)},
        admin_key=ADMIN_KEY,
    )
    entities = body["data"]["_entities"]
    assert len(entities) == 50 and "errors" not in body
    assert [e["id"] for e in entities] == ids
    reads = [e for e in kibo.journal.entries if "oauth" not in e.path]
    assert len(reads) == 1 and "filter=" in reads[0].query


def test_a_customer_token_resolves_only_its_own_entity(
    kibo_gateway: TestClient, sandboxes: Sandboxes
) -> None:
    signed = gql(
        kibo_gateway,
        'mutation { signIn(backend: "kibo", username: "ada.lovelace@example.com", password: "kibo-demo-pass") { token { accessToken } customer { id nativeId } } }',
    )["data"]["signIn"]
    token, own = signed["token"]["accessToken"], signed["customer"]["id"]
    other = encode_customer_id("kibo", str(int(signed["customer"]["nativeId"]) + 1))
    sandboxes.kibo.journal.clear()
    sandboxes.loyalty.journal.clear()
    body = gql(kibo_gateway, ENTITIES, {"r": reps(own, other, "garbage")}, token=token)
    entities = body["data"]["_entities"]
    assert (
        entities[0]["email"] == "ada.lovelace@example.com"
        and entities[0]["loyalty"]["points"] == 1720
    )
    assert entities[1] is None and entities[2] is None
    errors = {tuple(e["path"]): e["extensions"]["code"] for e in body["errors"]}
    assert errors == {("_entities", 1): "FORBIDDEN", ("_entities", 2): "BAD_USER_INPUT"}
    assert all(
        str(int(signed["customer"]["nativeId"]) + 1) not in e.path
        for e in sandboxes.kibo.journal.entries
    )
    assert sandboxes.kibo.journal.count("GET", "accounts/current") == 1


def test_without_credentials_entities_are_unauthenticated(kibo_gateway: TestClient) -> None:
    body = gql(kibo_gateway, ENTITIES, {"r": reps(encode_customer_id("kibo", "1001"))})
    assert body["data"]["_entities"] == [None]
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_service_sdl_is_served_with_introspection_off(
    make_gateway: Any, sandboxes: Sandboxes
) -> None:
    from conftest import kibo_backend

    production = make_gateway(
        kibo_backend("kibo", sandboxes.url("kibo")), gateway="introspection = false"
    )
    assert "@key" in gql(production, "{ _service { sdl } }")["data"]["_service"]["sdl"]
    assert gql(production, "{ __schema { types { name } } }")["data"] is None
