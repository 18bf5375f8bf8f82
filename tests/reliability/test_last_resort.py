"""Whatever fails, `/graphql` answers a GraphQL body with a code and the request id."""

from __future__ import annotations

import logging
import time

import pytest

from conftest import LiveGatewayFactory, Sandboxes, menu_backend


class FailingClock:
    """The clock the edge reads first (rate limits): a dependency that can break like any."""

    def __init__(self) -> None:
        self.broken = False

    def __call__(self) -> float:
        if self.broken:
            raise RuntimeError("clock unavailable")
        return time.time()


def test_a_failure_outside_graphql_is_a_graphql_body_with_the_request_id(
    make_live_gateway: LiveGatewayFactory,
    sandboxes: Sandboxes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FailingClock()
    gateway = make_live_gateway(menu_backend("menu", sandboxes.url("menu")), clock=clock)
    caplog.set_level(logging.ERROR, logger="customer_gateway.errors")
    clock.broken = True
    failed = gateway.client.post(
        "/graphql", json={"query": "{ backends { name } }"}, headers={"X-Request-ID": "req-1234"}
    )
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/json"
    assert failed.headers["x-request-id"] == "req-1234"
    assert failed.json() == {
        "errors": [
            {
                "message": "Unexpected error.",
                "extensions": {"code": "INTERNAL", "requestId": "req-1234"},
            }
        ]
    }
    [record] = [r for r in caplog.records if r.name == "customer_gateway.errors"]
    assert (record.request_id, record.error) == ("req-1234", "RuntimeError")  # type: ignore[attr-defined]
    assert "clock unavailable" not in record.getMessage()  # the type, never the details
    clock.broken = False
    again = gateway.client.post("/graphql", json={"query": "{ backends { name } }"})
    assert again.json() == {"data": {"backends": [{"name": "menu"}]}}  # the same connection
