"""Per operation: cached parse and validation under the limits, error codes, metrics, tracing.

No schema extension does any of this: Strawberry builds every extension and wraps every hook
anew on each request, which on a gateway answering in about a millisecond was a measurable share
of the time (six extensions at first; one still cost 27 us). The schema calls these instead
(api/schema.py). Nothing runs per field.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import lru_cache

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql.validation import ASTValidationRule
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext, ExecutionResult

from customer_gateway.api.errors import with_codes
from customer_gateway.observability.metrics import METRICS

__all__ = ["DocumentCache", "record_operation"]

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

    def lookup(self, schema: GraphQLSchema, query: str | None) -> Prepared | None:
        """The prepared document, or None when there is none or it does not parse."""
        if not query:
            return None
        try:
            return self.prepare(schema, query)
        except GraphQLError:
            return None

    def operation_type(
        self, schema: GraphQLSchema, query: str | None, operation_name: str | None
    ) -> str:
        """`query`, `mutation`, or `unknown` when the document does not parse or lacks it."""
        prepared = self.lookup(schema, query)
        operation = get_operation_ast(prepared[0], operation_name) if prepared else None
        return operation.operation.value if operation else "unknown"

    def fill(self, context: ExecutionContext, schema: GraphQLSchema) -> None:
        """Give a new operation its document and validation result, so that Strawberry skips
        both steps (it parses and validates only what is not there yet). A document that does
        not parse is left to Strawberry, which reports the error, under the same token cap."""
        context.parse_options["max_tokens"] = self.max_tokens
        context.validation_rules = self.rules
        prepared = self.lookup(schema, context.query)
        if prepared is not None:
            context.graphql_document = prepared[0]
            context.pre_execution_errors = list(prepared[1])


def record_operation(result: ExecutionResult, operation: str, started: float) -> str:
    """Give every error its documented code, count and time the operation; its outcome."""
    errors = result.errors
    if errors:
        result.errors = with_codes(errors)
    if not errors:
        outcome = "ok"
    elif result.data is None:
        outcome = "failed"
    else:
        outcome = "partial"
    METRICS.graphql_requests.labels(operation, outcome).inc()
    METRICS.graphql_seconds.labels(operation).observe(time.perf_counter() - started)
    return outcome
