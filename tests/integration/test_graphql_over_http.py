"""GraphQL over HTTP: the audits of graphql-http that apply to a POST-first, CSRF-safe server."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

RESPONSE_JSON = "application/graphql-response+json"
QUERY = "{ backends { name } }"


def test_json_post_answers_json(gateway: TestClient) -> None:
    response = gateway.post("/graphql", json={"query": QUERY})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["data"]["backends"][0]["name"] == "menu"


def test_graphql_response_json_when_asked(gateway: TestClient) -> None:
    response = gateway.post("/graphql", json={"query": QUERY}, headers={"Accept": RESPONSE_JSON})
    assert response.status_code == 200 and response.headers["content-type"] == RESPONSE_JSON
    legacy_first = gateway.post(
        "/graphql", json={"query": QUERY}, headers={"Accept": f"application/json, {RESPONSE_JSON}"}
    )
    assert legacy_first.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    ("document", "code"),
    [("{ nope }", "GRAPHQL_VALIDATION_FAILED"), ("{ backends {", "GRAPHQL_PARSE_FAILED")],
)
def test_request_errors(gateway: TestClient, document: str, code: str) -> None:
    modern = gateway.post("/graphql", json={"query": document}, headers={"Accept": RESPONSE_JSON})
    assert modern.status_code == 400
    body = modern.json()
    assert "data" not in body and body["errors"][0]["extensions"]["code"] == code
    legacy = gateway.post("/graphql", json={"query": document})
    assert legacy.status_code == 200 and legacy.json()["errors"][0]["extensions"]["code"] == code


def test_field_errors_keep_200_with_graphql_response_json(gateway: TestClient) -> None:
    response = gateway.post(
        "/graphql",
        json={"query": '{ me(backend: "menu") { email } }'},
        headers={"Accept": RESPONSE_JSON},
    )
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "Unable to parse request body as JSON"),
        (b'{"variables": {}}', "No GraphQL query found in the request"),
        (b'{"query": 1}', "must be a string"),
        (b'{"query": "{ backends { name } }", "variables": "x"}', "`variables` must be an object"),
        (b'[{"query": "{ backends { name } }"}]', "Batching is not enabled"),
    ],
)
def test_malformed_requests_are_400_with_a_graphql_error_body(
    gateway: TestClient, body: bytes, message: str
) -> None:
    response = gateway.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["errors"][0]
    assert message in error["message"] and error["extensions"]["code"] == "BAD_REQUEST"


def test_unsupported_media_types_are_refused(gateway: TestClient) -> None:
    response = gateway.post(
        "/graphql", content=b"<query/>", headers={"Content-Type": "application/xml"}
    )
    assert (
        response.status_code == 400
        and "Unsupported content type" in response.json()["errors"][0]["message"]
    )


def test_other_methods_are_405_with_allow(gateway: TestClient) -> None:
    for method in ("PUT", "PATCH", "DELETE"):
        response = gateway.request(method, "/graphql", json={"query": QUERY})
        assert response.status_code == 405 and response.headers["allow"] == "GET, POST"
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_get_runs_queries_with_a_preflight_header_but_never_mutations(gateway: TestClient) -> None:
    preflight = {"Apollo-Require-Preflight": "true"}
    assert gateway.get("/graphql", params={"query": QUERY}, headers=preflight).json()["data"][
        "backends"
    ]
    mutation = (
        'mutation { signIn(backend: "menu", username: "a", password: "b") { userErrors { code } } }'
    )
    refused = gateway.get("/graphql", params={"query": mutation}, headers=preflight)
    assert (
        refused.status_code in (400, 405)
        and "mutations are not allowed" in refused.json()["errors"][0]["message"]
    )


TWO_OPERATIONS = "query Names { backends { name } } query Kinds { backends { kind } }"


def test_operation_name_picks_one_of_several(gateway: TestClient) -> None:
    body = {"query": TWO_OPERATIONS, "operationName": "Kinds"}
    backends = gateway.post("/graphql", json=body).json()["data"]["backends"]
    assert backends and all(backend == {"kind": "MENU"} for backend in backends)


def test_an_unknown_operation_name_is_a_400_with_a_graphql_error_body(gateway: TestClient) -> None:
    response = gateway.post("/graphql", json={"query": TWO_OPERATIONS, "operationName": "Nope"})
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body and body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
