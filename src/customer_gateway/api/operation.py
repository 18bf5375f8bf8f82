"""Per operation: cached parse and validation under the limits, error codes, metrics, tracing.

One extension with one hook rather than one extension per concern (parser cache, validation
cache, token limit, rules, codes, metrics): Strawberry builds every extension and wraps every
hook anew on each request, and on a gateway answering in about a millisecond that setup was a
measurable share of the time. Nothing runs per field.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from functools import lru_cache

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse, specified_rules, validate
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext

from customer_gateway.api.errors import with_codes
from customer_gateway.observability.metrics import METRICS
from customer_gateway.observability.tracing import span, tracing_enabled

__all__ = ["DocumentCache", "OperationPipeline"]

Prepared = tuple[DocumentNode, list[GraphQLError]]


class DocumentCache:
    """Documents parsed (under the token cap) and validated (under every rule), by query text.

    Built once per schema; a document that does not parse is not cached, so the cache only
    holds operations that clients really send, at most `maxsize` of them.
    """

    def __init__(
        self, rules: Sequence[type[ASTValidationRule]], *, max_tokens: int, maxsize: int = 1024
    ) -> None:
        self.rules = (*specified_rules, *rules)
        # Strawberry's own validation adds these two to whatever rules it is given.
        self._all_rules = (*self.rules, MaybeNullValidationRule, OneOfInputValidationRule)
        self.max_tokens = max_tokens
        self.prepare = lru_cache(maxsize=maxsize)(self._prepare)

    def _prepare(self, schema: GraphQLSchema, query: str) -> Prepared:
        document = parse(query, max_tokens=self.max_tokens)
        return document, validate(schema, document, self._all_rules)

    def fill(self, context: ExecutionContext, schema: GraphQLSchema) -> None:
        """Give a new operation its document and validation result, so that Strawberry skips
        both steps (it parses and validates only what is not there yet). A document that does
        not parse is left to Strawberry, which reports the error, under the same token cap."""
        context.parse_options["max_tokens"] = self.max_tokens
        context.validation_rules = self.rules
        if not context.query:
            return
        try:
            document, errors = self.prepare(schema, context.query)
        except GraphQLError:
            return
        context.graphql_document = document
        context.pre_execution_errors = list(errors)


class OperationPipeline(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        if tracing_enabled():
            with span("graphql.operation") as current:
                yield
                operation, outcome = self._finish()
                current.set_attribute("graphql.operation.type", operation)
                current.set_attribute("outcome", outcome)
        else:
            yield
            operation, outcome = self._finish()
        METRICS.graphql_requests.labels(operation, outcome).inc()
        METRICS.graphql_seconds.labels(operation).observe(time.perf_counter() - started)

    def _finish(self) -> tuple[str, str]:
        """Give every error its documented code; then the operation type and outcome."""
        context = self.execution_context
        result = context.result
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = with_codes(errors)  # type: ignore[union-attr]
        try:
            operation = context.operation_type.value
        except (RuntimeError, AttributeError):  # the document did not parse
            operation = "unknown"
        if not errors:
            outcome = "ok"
        elif getattr(result, "data", None) is None:
            outcome = "failed"
        else:
            outcome = "partial"
        return operation, outcome
