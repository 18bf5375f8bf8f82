"""Bounded fuzzing of every operation in schema.graphql: documented codes only, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from starlette.applications import Starlette
from starlette.routing import Mount

from conftest import ADMIN_KEY, kibo_backend, loyalty_backend, menu_backend
from customer_gateway.app import build_app
from customer_gateway.sandbox.kibo import KiboSandbox
from customer_gateway.sandbox.menu import MenuSandbox
from customer_gateway.sandbox.open_loyalty import OpenLoyaltySandbox
from customer_gateway.settings import parse_settings
from support.canary import capture
from support.live import LiveServer

ROOT = Path(__file__).parents[2]
DOCUMENTED = {
    "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT", "UNSUPPORTED", "RATE_LIMITED",
    "BACKEND_UNAVAILABLE", "BACKEND_ERROR", "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED",
    "BAD_REQUEST",
}  # fmt: skip

schema = schemathesis.graphql.from_path(ROOT / "schema.graphql")


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    upstream = Starlette(
        routes=[
            Mount("/menu", app=MenuSandbox().app),
            Mount("/kibo", app=KiboSandbox().app),
            Mount("/loyalty", app=OpenLoyaltySandbox().app),
        ]
    )
    with LiveServer(upstream) as sandboxes:
        url = sandboxes.url
        text = (
            f'[gateway]\nadmin_keys = ["{ADMIN_KEY}"]\n'
            "[limits]\nrequests_per_address = 1000000\nrequests_per_token = 1000000\n"
            + menu_backend("menu", f"{url}/menu/api", extra='loyalty = "loyalty"')
            + kibo_backend("kibo", f"{url}/kibo/api")
            + loyalty_backend("loyalty", f"{url}/loyalty/api")
        )
        with LiveServer(build_app(parse_settings(text, env={}))) as gateway:
            yield f"{gateway.url}/graphql"


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_answers_with_documented_codes(
    case: schemathesis.Case, gateway_url: str
) -> None:
    for headers in ({}, {"X-Api-Key": ADMIN_KEY}):
        response = case.call(
            base_url=gateway_url, headers={"Content-Type": "application/json", **headers}
        )
        assert response.status_code in (200, 400), response.text[:300]
        text = response.text
        assert "Traceback" not in text and 'File "' not in text
        body = json.loads(text)
        codes = {e.get("extensions", {}).get("code") for e in body.get("errors") or []}
        assert codes <= DOCUMENTED, (codes - DOCUMENTED, text[:300])
        if body.get("errors"):
            capture.add(json.dumps(body["errors"]))
