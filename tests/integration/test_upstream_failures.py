"""Upstream trouble maps to documented codes, never to a stack trace or an upstream body."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient

from conftest import ADMIN_KEY, GatewayFactory, Sandboxes, menu_backend
from customer_gateway.app import build_app
from customer_gateway.connectors.protocol import Capability, ChangeFlow, UnsupportedOperations
from customer_gateway.connectors.routes import UUID
from customer_gateway.domain import ChangeKind, Customer
from customer_gateway.settings import parse_settings
from support.graphql import error_codes, gql
from support.live import free_port

SIGN_IN = 'mutation { signIn(backend: "menu", username: "ada.lovelace@example.com", password: "menu-demo-pass") { token { accessToken } userErrors { code } } }'
ME = '{ me(backend: "menu") { email } }'


def gateway_at(make_gateway: GatewayFactory, base_url: str, extra: str = "") -> TestClient:
    return make_gateway(menu_backend("menu", base_url, extra=extra))


def assert_clean(body: dict[str, Any]) -> None:
    text = str(body)
    for leak in ("Traceback", "File ", "/srv/", "eyJ", "<html", "line 1"):
        assert leak not in text, text


def test_backend_down_is_backend_unavailable(make_gateway: GatewayFactory) -> None:
    gateway = gateway_at(make_gateway, f"http://127.0.0.1:{free_port()}/api")
    body = gql(gateway, SIGN_IN)
    assert error_codes(body) == ["BACKEND_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["backend"] == "menu"
    assert_clean(body)
    assert error_codes(gql(gateway, ME, token="t")) == ["BACKEND_UNAVAILABLE"]


def test_slow_backend_times_out_within_its_timeout(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    gateway = gateway_at(
        make_gateway, sandboxes.url("slow"), extra="timeout_s = 0.5\nmax_attempts = 1"
    )
    started = time.monotonic()
    body = gql(gateway, ME, token="t")
    assert error_codes(body) == ["BACKEND_UNAVAILABLE"]
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("mode", ["html", "redirect", "wrong-shape"])
def test_unusable_answers_are_backend_errors(
    make_gateway: GatewayFactory, sandboxes: Sandboxes, mode: str
) -> None:
    gateway = gateway_at(make_gateway, sandboxes.url(mode))
    body = gql(gateway, SIGN_IN)
    assert error_codes(body) == ["BACKEND_ERROR"]
    assert body["errors"][0]["message"] == "The backend gave an unexpected answer."
    assert_clean(body)


def test_upstream_500_with_a_stack_trace_body_is_redacted(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    gateway = gateway_at(make_gateway, sandboxes.url("500"), extra="max_attempts = 1")
    body = gql(gateway, ME, token="t")
    assert error_codes(body) == ["BACKEND_UNAVAILABLE"]
    assert_clean(body)


class _Settings(BaseModel):
    kind: str = "broken"


class BrokenConnector(UnsupportedOperations):
    """A connector plugin with a bug: the gateway must mask what it raises."""

    kind: ClassVar[str] = "broken"
    settings_model: ClassVar[type[BaseModel]] = _Settings
    capabilities = frozenset({Capability.CURRENT_CUSTOMER})
    update_fields: frozenset[str] = frozenset()
    loyalty_backend = None
    customer_id_shape = UUID

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def from_settings(cls, name: str, settings: BaseModel) -> BrokenConnector:
        return cls(name)

    def change_flow(self, kind: ChangeKind) -> ChangeFlow:
        return ChangeFlow.DIRECT

    async def current_customer(self, access_token: str) -> Customer:
        raise RuntimeError(f"bug with secret {access_token} at /srv/app.py line 1")

    async def find_by_credentials(
        self, kind: ChangeKind, values: Sequence[str]
    ) -> dict[str, Customer]:
        return {}

    async def aclose(self) -> None:
        return None


def test_unexpected_errors_are_masked_as_internal_with_the_request_id() -> None:
    loaded = parse_settings(f'[gateway]\nadmin_keys = ["{ADMIN_KEY}"]\n', env={})
    app = build_app(loaded, connectors={"broken": BrokenConnector("broken")})
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post(
            "/graphql",
            json={"query": '{ me(backend: "broken") { email } }'},
            headers={"Authorization": "Bearer eyJsecret.token.value", "X-Request-ID": "req-42"},
        )
    body = response.json()
    assert response.status_code == 200
    assert body["errors"][0]["message"] == "Unexpected error."
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL", "requestId": "req-42"}
    assert "secret" not in response.text and "RuntimeError" not in response.text
