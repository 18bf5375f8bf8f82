"""Prometheus metrics, one registry for the process, served at `/metrics`.

Labels are low-cardinality by construction: backend names from config, route templates (ids and
codes replaced by `{id}`), outcome classes. No label ever carries a token, email or phone.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "METRICS", "Metrics"]


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.upstream_requests = Counter(
            "customer_gateway_upstream_requests",
            "Upstream calls by backend, route template and outcome.",
            ["backend", "method", "route", "outcome"],
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "customer_gateway_upstream_request_seconds",
            "Upstream call latency.",
            ["backend", "method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.upstream_retries = Counter(
            "customer_gateway_upstream_retries", "Retried upstream reads.", ["backend"], registry=r
        )
        self.retry_budget_exhausted = Counter(
            "customer_gateway_retry_budget_exhausted",
            "Retries skipped because the backend's retry budget was spent.",
            ["backend"],
            registry=r,
        )
        self.circuit_state = Gauge(
            "customer_gateway_circuit_state",
            "1 for the circuit breaker's current state per backend.",
            ["backend", "state"],
            registry=r,
        )
        self.circuit_transitions = Counter(
            "customer_gateway_circuit_transitions",
            "Circuit breaker state changes.",
            ["backend", "to"],
            registry=r,
        )
        self.otp_outcomes = Counter(
            "customer_gateway_otp_outcomes",
            "One-time-code requests and confirmations by outcome.",
            ["backend", "kind", "outcome"],
            registry=r,
        )
        self.mapping_drift = Counter(
            "customer_gateway_mapping_drift",
            "Vendor fields the mapping did not expect (unknown) or expected but missed (missing).",
            ["backend", "object", "drift", "field"],
            registry=r,
        )
        self.graphql_requests = Counter(
            "customer_gateway_graphql_requests",
            "GraphQL operations by type and outcome.",
            ["operation", "outcome"],
            registry=r,
        )
        self.graphql_seconds = Histogram(
            "customer_gateway_graphql_request_seconds",
            "GraphQL request latency.",
            ["operation"],
            registry=r,
        )
        self.untrusted_documents = Counter(
            "customer_gateway_untrusted_documents",
            "Documents run without being in the trusted documents list (enforce = false).",
            registry=r,
        )
        self.rate_limited = Counter(
            "customer_gateway_rate_limited",
            "Requests refused by a rate limit.",
            ["scope"],
            registry=r,
        )
        self.store_up = Gauge(
            "customer_gateway_store_up",
            "1 while the shared store answers within its timeout, 0 during an outage.",
            registry=r,
        )
        self.store_fallbacks = Counter(
            "customer_gateway_store_fallbacks",
            "Store calls answered without the store during an outage (per-process rate limit, "
            "persisted-query miss).",
            ["use"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


METRICS = Metrics()
