"""The gateway driven by the `gql` client, as a frontend team's tooling would use it."""

from __future__ import annotations

import pytest
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport

from conftest import LiveGatewayFactory, Sandboxes, menu_backend

SIGN_IN = gql("""
mutation SignIn($username: String!, $password: String!) {
  signIn(backend: "menu", username: $username, password: $password) {
    token { accessToken expiresAt }
    customer { id email }
    userErrors { field code }
  }
}""")
ME = gql('query Me { me(backend: "menu") { id email loyalty { points } } }')
REFRESH = gql(
    'mutation Refresh { refreshToken(backend: "menu") { token { accessToken } userErrors { code } } }'
)


def client(url: str, token: str | None = None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(
        transport=HTTPXTransport(url=f"{url}/graphql", headers=headers),
        fetch_schema_from_transport=True,
    )


def test_sign_in_me_and_refresh_with_gql(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes
) -> None:
    gateway = make_live_gateway(
        menu_backend("menu", sandboxes.url("menu")), extra="introspection = true"
    )
    with client(gateway.url) as session:
        signed = session.execute(
            GraphQLRequest(
                SIGN_IN,
                variable_values={
                    "username": "ada.lovelace@example.com",
                    "password": "menu-demo-pass",
                },
            )
        )
    payload = signed["signIn"]
    assert (
        payload["userErrors"] == [] and payload["customer"]["email"] == "ada.lovelace@example.com"
    )
    token = payload["token"]["accessToken"]
    with client(gateway.url, token) as session:
        me = session.execute(ME)["me"]
        assert me["id"] == payload["customer"]["id"] and me["loyalty"] is None
        fresh = session.execute(REFRESH)["refreshToken"]["token"]["accessToken"]
    assert fresh != token
    with client(gateway.url, token) as stale, pytest.raises(TransportQueryError) as caught:
        stale.execute(ME)
    assert caught.value.errors is not None
    assert caught.value.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_gql_validates_documents_against_the_introspected_schema(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes
) -> None:
    gateway = make_live_gateway(
        menu_backend("menu", sandboxes.url("menu")), extra="introspection = true"
    )
    with (
        client(gateway.url) as session,
        pytest.raises(Exception, match="Cannot query field 'nope'"),
    ):
        session.execute(gql('{ me(backend: "menu") { nope } }'))
