"""Metrics, structured logs and optional tracing, as an operator sees them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.testclient import TestClient

from conftest import GatewayFactory, Sandboxes, kibo_backend
from customer_gateway.observability.tracing import disable_tracing
from support.canary import capture
from support.graphql import gql

SIGN_IN = 'mutation { signIn(backend: "kibo", username: "ada.lovelace@example.com", password: "kibo-demo-pass") { token { accessToken } customer { id } } }'


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    assert wanted or total >= 0
    return total


def test_metrics_count_upstream_calls_by_route_template_and_otp_outcomes(
    kibo_gateway: TestClient,
) -> None:
    before = kibo_gateway.get("/metrics").text
    signed = gql(kibo_gateway, SIGN_IN)["data"]["signIn"]
    token, cid = signed["token"]["accessToken"], signed["customer"]["id"]
    gql(kibo_gateway, '{ me(backend: "kibo") { email } }', token=token)
    gql(
        kibo_gateway,
        'mutation($id: ID!) { confirmEmailChange(id: $id, code: "123456") { userErrors { code } } }',
        {"id": cid},
        token=token,
    )
    after = kibo_gateway.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    capture.add(text)  # scanned for secrets with everything else
    route = "/commerce/customer/accounts/current"
    grew = metric(
        text, "customer_gateway_upstream_requests_total", backend="kibo", route=route, outcome="2xx"
    ) - metric(
        before,
        "customer_gateway_upstream_requests_total",
        backend="kibo",
        route=route,
        outcome="2xx",
    )
    assert grew == 2  # `me`, and the confirm's ownership check (one per request)
    assert (
        metric(
            text,
            "customer_gateway_otp_outcomes_total",
            backend="kibo",
            kind="email",
            outcome="no_pending_change",
        )
        >= 1
    )
    assert (
        metric(text, "customer_gateway_graphql_requests_total", operation="mutation", outcome="ok")
        >= 1
    )
    assert 'customer_gateway_circuit_state{backend="kibo",state="closed"} 1.0' in text
    assert not re.search(r"accounts/\d", text)  # ids never become labels


def test_unknown_vendor_fields_are_counted_not_fatal(
    kibo_gateway: TestClient, sandboxes: Sandboxes
) -> None:
    signed = gql(kibo_gateway, SIGN_IN)["data"]["signIn"]
    native = int(
        sandboxes.kibo.login("ada.lovelace@example.com", "kibo-demo-pass")["customerAccount"]["id"]
    )
    sandboxes.kibo._accounts[native].data["loyaltyTierV2"] = "new-field"
    body = gql(
        kibo_gateway, '{ me(backend: "kibo") { email } }', token=signed["token"]["accessToken"]
    )
    assert body["data"]["me"]["email"] == "ada.lovelace@example.com"
    text = kibo_gateway.get("/metrics").text
    assert (
        metric(
            text,
            "customer_gateway_mapping_drift_total",
            backend="kibo",
            drift="unknown",
            field="loyaltyTierV2",
        )
        >= 1
    )


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield exporter
    disable_tracing()


def test_tracing_spans_per_operation_and_upstream_call(
    make_gateway: GatewayFactory, sandboxes: Sandboxes, spans: InMemorySpanExporter
) -> None:
    gateway = make_gateway(
        kibo_backend("kibo", sandboxes.url("kibo")), extra="[telemetry]\ntracing = true"
    )
    token = gql(gateway, SIGN_IN)["data"]["signIn"]["token"]["accessToken"]
    spans.clear()
    gql(gateway, '{ me(backend: "kibo") { email } }', token=token)
    finished = spans.get_finished_spans()
    operation = next(s for s in finished if s.name == "graphql.operation")
    upstream = [s for s in finished if s.name == "upstream kibo"]
    assert operation.attributes["graphql.operation.type"] == "query"
    assert upstream and all(
        s.parent is not None and s.parent.span_id == operation.context.span_id for s in upstream
    )
    assert upstream[0].attributes["route"] == "/commerce/customer/accounts/current"
    assert all(token not in str(s.attributes) for s in finished)
