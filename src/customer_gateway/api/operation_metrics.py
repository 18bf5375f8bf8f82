"""Counts and times every GraphQL operation, by type and outcome, and traces it when tracing
is on (one hook per operation; nothing per field, which would tax every resolver)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from customer_gateway.observability.metrics import METRICS
from customer_gateway.observability.tracing import span

__all__ = ["OperationMetrics"]


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        with span("graphql.operation") as current:
            yield
            operation, outcome = self._describe()
            if current is not None:
                current.set_attribute("graphql.operation.type", operation)
                current.set_attribute("outcome", outcome)
        METRICS.graphql_requests.labels(operation, outcome).inc()
        METRICS.graphql_seconds.labels(operation).observe(time.perf_counter() - started)

    def _describe(self) -> tuple[str, str]:
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
        return operation, outcome
