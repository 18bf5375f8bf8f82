"""The gateway in front of one sandbox, driven through Starlette's TestClient as a client would.

It is configured from TOML like any deployment (`[backends.<name>]` from the case), so the
connector is found through its entry point; the gateway's own codes stay in its memory
(`[otp] notifier = "outbox"`), where the suite reads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.testclient import TestClient

from customer_gateway.app import build_app
from customer_gateway.otp.notify import OtpMessage, OutboxNotifier
from customer_gateway.settings import parse_settings
from customer_gateway.testing.documents import ME, SIGN_IN

__all__ = ["ADMIN_KEY", "Gateway", "SignedIn", "error_codes", "toml_table"]

ADMIN_KEY = "contract-admin-key-0123456789"


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def toml_table(name: str, values: Mapping[str, object]) -> str:
    """`[name]` with one `key = value` line per entry (strings, numbers, booleans, lists)."""
    lines = [f"[{name}]", *(f"{key} = {_toml_value(value)}" for key, value in values.items())]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SignedIn:
    """A customer signed in through the gateway."""

    token: str
    refresh_token: str | None
    id: str
    native_id: str
    customer: dict[str, Any]  # as signIn answered it


class Gateway:
    """A gateway with one backend; `query` answers the GraphQL body of a 200 response."""

    def __init__(self, backend: str, settings: Mapping[str, object]) -> None:
        self.backend = backend
        text = (
            toml_table("gateway", {"admin_keys": [ADMIN_KEY]})
            + toml_table("otp", {"notifier": "outbox"})
            + toml_table(f"backends.{backend}", settings)
        )
        app = build_app(parse_settings(text, source="<contract>", env={}))
        self.client = TestClient(app, raise_server_exceptions=False)
        self.client.__enter__()

    def close(self) -> None:
        self.client.__exit__(None, None, None)

    def query(
        self,
        document: str,
        variables: Mapping[str, object] | None = None,
        *,
        token: str | None = None,
        admin: bool = False,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        if admin:
            headers["X-Api-Key"] = ADMIN_KEY
        response = self.client.post(
            "/graphql",
            json={"query": document, "variables": dict(variables or {})},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def sign_in(self, credentials: tuple[str, str]) -> SignedIn:
        username, password = credentials
        body = self.query(SIGN_IN, {"b": self.backend, "u": username, "p": password})
        payload = body["data"]["signIn"]
        assert payload["userErrors"] == [], payload
        token, customer = payload["token"], payload["customer"]
        return SignedIn(
            token["accessToken"],
            token["refreshToken"],
            customer["id"],
            customer["nativeId"],
            customer,
        )

    def me(self, signed: SignedIn) -> dict[str, Any]:
        """The signed-in customer as `me` reads it now."""
        body = self.query(ME, {"b": self.backend}, token=signed.token)
        me: dict[str, Any] = body["data"]["me"]
        return me

    @property
    def sent(self) -> list[OtpMessage]:
        """Every message the gateway itself sent (codes of the gateway-run flow, notices)."""
        notifier = self.client.app.state.services.changes.notifier  # type: ignore[attr-defined]
        assert isinstance(notifier, OutboxNotifier)
        return notifier.messages


def error_codes(body: Mapping[str, Any]) -> list[str]:
    """The `extensions.code` of each GraphQL error, in order."""
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]
