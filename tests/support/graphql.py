"""A small GraphQL-over-HTTP client for tests, the way a frontend would call the gateway."""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.testclient import TestClient

from support.canary import capture


def gql(
    client: TestClient | httpx.Client,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    admin_key: str | None = None,
    headers: dict[str, str] | None = None,
    status: int = 200,
) -> dict[str, Any]:
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if admin_key is not None:
        sent["X-Api-Key"] = admin_key
    response = client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
    )
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        capture.add(json.dumps(body["errors"]))  # scanned for leaks at the end of the run
    return body


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
