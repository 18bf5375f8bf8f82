"""The HTTP surface: health, readiness, GraphiQL and introspection by mode, CSRF, body cap."""

from __future__ import annotations

from starlette.testclient import TestClient

from conftest import GatewayFactory, Sandboxes, menu_backend
from support.graphql import error_codes, gql


def production(make_gateway: GatewayFactory, sandboxes: Sandboxes) -> TestClient:
    return make_gateway(
        menu_backend("menu", sandboxes.url("menu")), gateway="introspection = false"
    )


def test_health_and_readiness_make_no_upstream_calls(
    gateway: TestClient, sandboxes: Sandboxes
) -> None:
    assert gateway.get("/healthz").json() == {"status": "ok"}
    ready = gateway.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert sandboxes.menu.journal.count() == 0


def test_graphiql_and_introspection_are_closed_in_production(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    client = production(make_gateway, sandboxes)
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 400 and "graphiql" not in page.text.lower()  # CSRF: no page here
    body = gql(client, "{ __schema { types { name } } }")
    assert body["data"] is None
    assert set(error_codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
    typo = gql(client, "{ backend { name } }")
    assert "Did you mean" not in typo["errors"][0]["message"]
    assert "Customer" not in str(body) + str(typo)


def test_graphiql_and_introspection_are_open_in_demo_mode(gateway: TestClient) -> None:
    page = gateway.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    body = gql(gateway, "{ __schema { queryType { name } } }")
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


def test_backends_lists_the_configured_ones(gateway: TestClient) -> None:
    body = gql(gateway, "{ backends { name kind capabilities healthy } }")
    menu = body["data"]["backends"][0]
    assert menu["name"] == "menu" and menu["kind"] == "MENU" and menu["healthy"] is True
    assert "signIn" in menu["capabilities"] and "customers" not in menu["capabilities"]


def test_simple_requests_are_refused_as_csrf(gateway: TestClient, sandboxes: Sandboxes) -> None:
    query = '{ me(backend: "menu") { email } }'
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ):
        response = gateway.post(
            "/graphql", content=query.encode(), headers={"Content-Type": content_type}
        )
        assert response.status_code == 400, content_type
        assert "Apollo-Require-Preflight" in response.json()["errors"][0]["message"]
    assert gateway.get("/graphql", params={"query": "{ backends { name } }"}).status_code == 400
    allowed = gateway.get(
        "/graphql",
        params={"query": "{ backends { name } }"},
        headers={"Apollo-Require-Preflight": "true"},
    )
    assert allowed.status_code == 200 and allowed.json()["data"]["backends"][0]["name"] == "menu"
    assert sandboxes.menu.journal.count() == 0


def test_mutations_over_get_are_refused(gateway: TestClient, sandboxes: Sandboxes) -> None:
    mutation = (
        'mutation { signIn(backend: "menu", username: "a", password: "b") { userErrors { code } } }'
    )
    response = gateway.get(
        "/graphql", params={"query": mutation}, headers={"Apollo-Require-Preflight": "1"}
    )
    assert response.status_code in (400, 405)
    assert sandboxes.menu.journal.count() == 0


def test_oversized_bodies_are_refused_before_parsing(
    gateway: TestClient, sandboxes: Sandboxes
) -> None:
    padding = " " * 2_000_001
    response = gateway.post(
        "/graphql",
        content=('{"query": "{ backends { name } }"' + padding + "}").encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert sandboxes.menu.journal.count() == 0


def test_operation_limits(gateway: TestClient) -> None:
    deep = "{ backends { name } }"
    aliases = "{ " + " ".join(f"a{i}: backends {{ name }}" for i in range(16)) + " }"
    assert set(error_codes(gql(gateway, aliases))) == {"GRAPHQL_VALIDATION_FAILED"}
    assert "errors" not in gql(gateway, deep)
    tokens = "{ " + "__typename " * 2100 + "}"
    assert gql(gateway, tokens)["errors"]
