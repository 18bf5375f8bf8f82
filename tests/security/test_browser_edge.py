"""The HTTP edge as browsers and caches see it: Apollo Server's CSRF rule, GETs that ask for HTML,
answers to credentialed requests kept out of shared caches, and APQ over GET."""

from __future__ import annotations

import hashlib
import json

import pytest
from starlette.testclient import TestClient

from conftest import ADMIN_KEY, GatewayFactory, Sandboxes, menu_backend
from support.graphql import error_codes, gql

SIGN_IN = 'mutation { signIn(backend: "menu", username: "ada.lovelace@example.com", password: "menu-demo-pass") { token { accessToken } } }'
ME = '{ me(backend: "menu") { email } }'
BACKENDS = "query Backends { backends { name } }"


def production(make_gateway: GatewayFactory, sandboxes: Sandboxes) -> TestClient:
    """GraphiQL and introspection off, as `serve` runs by default."""
    return make_gateway(
        menu_backend("menu", sandboxes.url("menu")), gateway="introspection = false"
    )


def sign_in(client: TestClient) -> str:
    token: str = gql(client, SIGN_IN)["data"]["signIn"]["token"]["accessToken"]
    return token


# --- the CSRF rule: Apollo Server's definition of a preflighted request --------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},  # Apollo Client's GETs (useGETForQueries)
        {"Content-Type": "application/graphql-response+json"},
        {"Apollo-Require-Preflight": "true"},
        {"X-Apollo-Operation-Name": "Backends"},
    ],
)
def test_a_get_a_browser_must_preflight_runs(
    make_gateway: GatewayFactory, sandboxes: Sandboxes, headers: dict[str, str]
) -> None:
    client = production(make_gateway, sandboxes)
    response = client.get("/graphql", params={"query": BACKENDS}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"backends": [{"name": "menu"}]}}


@pytest.mark.parametrize(
    "headers",
    [
        {},  # urql's default GET, an <img src>, a link
        {"Content-Type": "text/plain"},
        {"Content-Type": "TEXT/PLAIN; charset=utf-8"},
        {"Content-Type": " application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {"Apollo-Require-Preflight": ""},  # a header must say something to count
        {"X-Requested-With": "XMLHttpRequest"},  # not one of Apollo's headers
    ],
)
def test_a_request_a_browser_sends_without_preflight_runs_nothing(
    make_gateway: GatewayFactory, sandboxes: Sandboxes, headers: dict[str, str]
) -> None:
    client = production(make_gateway, sandboxes)
    token = sign_in(client)
    sandboxes.menu.journal.clear()
    credentials = {"Authorization": f"Bearer {token}"}
    got = client.get("/graphql", params={"query": ME}, headers={**credentials, **headers})
    assert got.status_code == 400 and error_codes(got.json()) == ["BAD_REQUEST"]
    assert "Cross-Site Request Forgery" in got.json()["errors"][0]["message"]
    if "Content-Type" in headers:
        posted = client.post(
            "/graphql",
            content=json.dumps({"query": ME}).encode(),
            headers={**credentials, **headers},
        )
        assert posted.status_code == 400, headers
    assert sandboxes.menu.journal.count() == 0


# --- a GET that asks for HTML is a page request, never an operation -------------------------


def test_with_graphiql_off_a_get_asking_for_html_runs_nothing(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    client = production(make_gateway, sandboxes)
    token = sign_in(client)
    sandboxes.menu.journal.clear()
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    credentials = {"Authorization": f"Bearer {token}"}
    simple = client.get("/graphql", params={"query": ME}, headers={**browser, **credentials})
    assert simple.status_code == 400  # the CSRF rule is not skipped for it
    preflighted = client.get(
        "/graphql",
        params={"query": ME},
        headers={**browser, **credentials, "Apollo-Require-Preflight": "1"},
    )
    assert preflighted.status_code == 404 and "data" not in preflighted.json()
    assert sandboxes.menu.journal.count() == 0


def test_with_graphiql_on_a_get_asking_for_html_gets_the_page_and_runs_nothing(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    client = make_gateway(menu_backend("menu", sandboxes.url("menu")))  # introspection = true
    token = sign_in(client)
    sandboxes.menu.journal.clear()
    page = client.get(
        "/graphql",
        params={"query": ME},
        headers={"Accept": "text/html", "Authorization": f"Bearer {token}"},
    )
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    assert sandboxes.menu.journal.count() == 0


# --- answers to credentialed requests stay out of shared caches -----------------------------


def test_answers_to_credentialed_requests_are_private_and_not_stored(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    client = make_gateway(
        menu_backend("menu", sandboxes.url("menu")),
        extra="[limits]\nrequests_per_token = 2\nwindow_s = 600",
    )
    token = sign_in(client)
    bearer = {"Authorization": f"Bearer {token}", "Apollo-Require-Preflight": "1"}
    answers = [
        client.get("/graphql", params={"query": ME}, headers=bearer),
        client.post("/graphql", json={"query": ME}, headers=bearer),
        client.get("/graphql", params={"query": ME}, headers=bearer),  # 429, over the limit
        client.post("/graphql", json={"query": BACKENDS}, headers={"X-Api-Key": ADMIN_KEY}),
        client.get("/graphql", params={"query": BACKENDS}, headers={"X-Api-Key": "wrong"}),
        client.post(
            "/graphql",
            content=b"{}",
            headers={"X-Api-Key": ADMIN_KEY, "Content-Type": "text/plain"},
        ),
    ]
    assert answers[0].json()["data"]["me"]["email"] == "ada.lovelace@example.com"
    assert answers[2].status_code == 429
    for answer in answers:
        assert answer.headers.get("cache-control") == "private, no-store", answer.request.url
    public = client.get(
        "/graphql", params={"query": BACKENDS}, headers={"Apollo-Require-Preflight": "1"}
    )
    assert public.status_code == 200 and "private" not in public.headers.get("cache-control", "")


# --- APQ over GET with GraphiQL off ---------------------------------------------------------


def test_apq_over_get_runs_with_graphiql_off(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    client = production(make_gateway, sandboxes)
    digest = hashlib.sha256(BACKENDS.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    client.post("/graphql", json={"query": BACKENDS, "extensions": extensions})
    for accept in ("*/*", "application/json", "application/graphql-response+json"):
        response = client.get(
            "/graphql",
            params={"extensions": json.dumps(extensions)},
            headers={"Accept": accept, "Content-Type": "application/json"},
        )
        assert response.status_code == 200, (accept, response.text)
        assert response.json() == {"data": {"backends": [{"name": "menu"}]}}
