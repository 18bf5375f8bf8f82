"""Counts and times every GraphQL operation, by type and outcome (one hook per operation)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from customer_gateway.observability.metrics import METRICS

__all__ = ["OperationMetrics"]


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            operation = context.operation_type.value
        except (RuntimeError, AttributeError):  # the document did not parse
            operation = "unknown"
        result = context.result
        errors = getattr(result, "errors", None)
        if not errors:
            outcome = "ok"
        elif getattr(result, "data", None) is None:
            outcome = "failed"
        else:
            outcome = "partial"
        METRICS.graphql_requests.labels(operation, outcome).inc()
        METRICS.graphql_seconds.labels(operation).observe(time.perf_counter() - started)
