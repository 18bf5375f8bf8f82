"""Documented limits and safeguards, each with a test that fails when it is taken away."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from conftest import (
    ADMIN_KEY,
    GatewayFactory,
    Sandboxes,
    kibo_backend,
    loyalty_backend,
)
from customer_gateway.connectors.protocol import CustomerCredentials
from customer_gateway.domain import encode_customer_id
from customer_gateway.otp.notify import OutboxNotifier
from customer_gateway.web.graphiql_assets import graphiql_asset_routes
from support.graphql import error_codes, gql


@pytest.fixture
def gateway(make_gateway: GatewayFactory, sandboxes: Sandboxes) -> TestClient:
    return make_gateway(
        kibo_backend("kibo", sandboxes.url("kibo"))
        + loyalty_backend("loyalty", sandboxes.url("loyalty"))
    )


def test_aliases_anywhere_in_the_document_count_toward_the_limit(gateway: TestClient) -> None:
    def nested(count: int) -> str:
        return "{ backends { " + " ".join(f"n{i}: name" for i in range(count)) + " } }"

    assert "errors" not in gql(gateway, nested(15))
    body = gql(gateway, nested(16))
    assert body["data"] is None and "16 aliases found. Allowed: 15" in body["errors"][0]["message"]


def test_two_code_confirmations_in_one_document_are_refused(
    gateway: TestClient, sandboxes: Sandboxes
) -> None:
    """One email and one phone confirmation: two guesses, no alias needed."""
    document = (
        'mutation($id: ID!) { confirmEmailChange(id: $id, code: "123456") { userErrors { code } } '
        'confirmPhoneNumberChange(id: $id, code: "123456") { userErrors { code } } }'
    )
    body = gql(gateway, document, {"id": encode_customer_id("kibo", "1001")}, admin_key=ADMIN_KEY)
    assert body["data"] is None
    assert body["errors"][0]["message"] == "At most one sign-in or code confirmation per request."
    assert sandboxes.kibo.journal.entries == []


def test_customer_credentials_never_show_the_token(caplog: pytest.LogCaptureFixture) -> None:
    token = "tok_CANARY_never_in_a_repr"
    credentials = CustomerCredentials(token)
    for text in (repr(credentials), str(credentials), f"{credentials!r}", f"{[credentials]}"):
        assert token not in text
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("customer_gateway.test").debug("acting with %r", credentials)
    assert token not in caplog.text


def test_graphiql_assets_never_leave_their_package(tmp_path: Path) -> None:
    modules = tmp_path / "node_modules"
    package = modules / "graphiql"
    package.mkdir(parents=True)
    (package / "package.json").write_text('{"version": "1.0.0"}')
    (package / "graphiql.min.js").write_text("ok")
    (tmp_path / "secret.txt").write_text("not an asset")
    (modules / "secret.txt").write_text("not an asset either")
    client = TestClient(Starlette(routes=graphiql_asset_routes(modules)))
    assert client.get("/graphiql-assets/graphiql@1.0.0/graphiql.min.js").text == "ok"
    for path in (
        "graphiql@1.0.0/..%2F..%2Fsecret.txt",
        "graphiql@1.0.0/..%2Fsecret.txt",
        "graphiql@1.0.0/%2E%2E/%2E%2E/secret.txt",
        "..@1.0.0/secret.txt",
        "@x/..@1.0.0/secret.txt",
    ):
        response = client.get(f"/graphiql-assets/{path}")
        assert response.status_code == 404, path
        assert "not an asset" not in response.text


def token_roles(authorization: str) -> list[str]:
    payload = authorization.removeprefix("Bearer ").split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return list(claims.get("roles", []))


UPDATE = 'mutation($id: ID!) { updateCustomer(id: $id, input: {firstName: "Admina"}) { customer { firstName } userErrors { code } } }'
REQUEST = {
    "email": 'mutation($id: ID!) { requestEmailChange(id: $id, email: "admin-set@example.com") { pending userErrors { code } } }',
    "phone": 'mutation($id: ID!) { requestPhoneNumberChange(id: $id, phoneNumber: "+14155550199") { pending userErrors { code } } }',
}
CONFIRM = {
    "email": "mutation($id: ID!, $c: String!) { confirmEmailChange(id: $id, code: $c) { customer { email } userErrors { code } } }",
    "phone": "mutation($id: ID!, $c: String!) { confirmPhoneNumberChange(id: $id, code: $c) { customer { phoneNumber } userErrors { code } } }",
}


def latest_code(gateway: TestClient, sandboxes: Sandboxes, backend: str, change: str) -> str:
    """The code the change's sender sent: Open Loyalty's own SMS, or the gateway's outbox."""
    if backend == "loyalty" and change == "phone":
        message = sandboxes.loyalty.outbox.latest()
        assert message is not None
        return message.code
    notifier = gateway.app.state.services.changes.notifier  # type: ignore[attr-defined]
    assert isinstance(notifier, OutboxNotifier)
    code = notifier.messages[-1].code
    assert code is not None
    return code


@pytest.mark.parametrize("operation", ["update", "email", "phone"])
def test_admin_writes_use_the_backends_service_credentials(
    gateway: TestClient, sandboxes: Sandboxes, operation: str
) -> None:
    """With the admin key the gateway acts with the backend's own service account (Kibo's
    application token without shopper claims, Open Loyalty's admin token), for every write:
    profile updates and both credential changes, through to the confirmed write."""
    ada = sandboxes.loyalty.store.by_login("ada.lovelace@example.com")
    assert ada is not None
    ids = {
        "kibo": encode_customer_id("kibo", "1001"),
        "loyalty": encode_customer_id("loyalty", ada.customer_id),
    }
    for backend, customer_id in ids.items():
        if operation == "update":
            body = gql(gateway, UPDATE, {"id": customer_id}, admin_key=ADMIN_KEY)
            assert body["data"]["updateCustomer"]["customer"]["firstName"] == "Admina"
            continue
        asked = gql(gateway, REQUEST[operation], {"id": customer_id}, admin_key=ADMIN_KEY)
        assert asked["data"][next(iter(asked["data"]))]["userErrors"] == [], asked
        if not asked["data"][next(iter(asked["data"]))]["pending"]:
            continue  # applied at once (Open Loyalty takes an admin's phone without a code)
        code = latest_code(gateway, sandboxes, backend, operation)
        done = gql(gateway, CONFIRM[operation], {"id": customer_id, "c": code}, admin_key=ADMIN_KEY)
        assert "errors" not in done and done["data"][next(iter(done["data"]))]["userErrors"] == []
    writes = [
        e
        for e in sandboxes.kibo.journal.entries
        if e.method in ("PUT", "POST") and "applications/authtickets" not in e.path
    ]
    assert writes and all("x-vol-user-claims" not in e.headers for e in writes)
    assert all(e.headers["authorization"].startswith("Bearer ") for e in writes)
    loyalty_writes = [
        e
        for e in sandboxes.loyalty.journal.entries
        if e.method in ("PUT", "POST") and "login_check" not in e.path
    ]
    assert loyalty_writes
    assert all("ROLE_ADMIN" in token_roles(e.headers["authorization"]) for e in loyalty_writes)


def test_a_customer_token_cannot_pass_for_service_credentials(
    gateway: TestClient, sandboxes: Sandboxes
) -> None:
    body = gql(
        gateway,
        UPDATE,
        {"id": encode_customer_id("kibo", "1001")},
        token="not-a-kibo-token",
    )
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert not [e for e in sandboxes.kibo.journal.entries if e.method == "PUT"]
