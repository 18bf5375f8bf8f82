"""Per operation: cached parse and validation under the limits, error codes, metrics, tracing.

No schema extension does any of this: Strawberry builds every extension and wraps every hook
anew on each request, which on a gateway answering in about a millisecond was a measurable share
of the time (six extensions at first; one still cost 27 us). The schema runs `Operations`
around each operation instead (`framework.py`). Nothing runs per field.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql.validation import ASTValidationRule
from strawberry.types import ExecutionContext, ExecutionResult

from customer_gateway.api.errors import with_codes
from customer_gateway.api.framework import STRAWBERRY_RULES
from customer_gateway.observability.metrics import METRICS
from customer_gateway.observability.tracing import span, tracing_enabled

__all__ = ["DocumentCache", "Operations", "Prepared", "record_operation"]

Prepared = tuple[DocumentNode, list[GraphQLError]]

# What a cached document holds per token of its text (AST node, location, name, token), measured
# with tracemalloc on the gateway's own operations: about 22 KB for a 60-token query.
BYTES_PER_TOKEN = 384


def _unlink_tokens(document: DocumentNode) -> int:
    """Break the lexer's doubly linked token list (nothing reads it after parsing) and count its
    tokens. Linked, every parsed document is one big reference cycle that only the cyclic
    collector frees, and under the gateway's collector settings an evicted document lingered
    until a full pass: 60,000 distinct documents grew the process by 67 MB."""
    count = 0
    token = document.loc.start_token if document.loc is not None else None
    while token is not None:
        following = token.next
        token.prev = token.next = None
        token = following
        count += 1
    return count


class DocumentCache:
    """Documents parsed (under the token cap) and validated (under every rule), by query text.

    Built once per schema and bounded in entries and in (estimated) bytes, least recently used
    dropped first. A document that does not parse is not kept: its error is returned, once.
    """

    def __init__(
        self,
        rules: Sequence[type[ASTValidationRule]],
        *,
        first: Sequence[type[ASTValidationRule]] = (),
        max_tokens: int,
        max_entries: int = 1024,
        max_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        """`first` are cheap rules (the operation limits) checked before the others: some of
        graphql-core's own are quadratic in what the limits bound (overlapping fields), so a
        document over a limit is refused before they run."""
        self.first = tuple(first)
        self.rules = (*specified_rules, *first, *rules)
        self._later = (*specified_rules, *rules, *STRAWBERRY_RULES)  # as Strawberry would
        self.max_tokens = max_tokens
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[Prepared, int]] = OrderedDict()
        self.size = 0  # estimated bytes held
        self.parses = 0  # documents parsed so far: each text once, unless it was dropped

    def __len__(self) -> int:
        return len(self._entries)

    def prepare(self, schema: GraphQLSchema, query: str) -> Prepared | GraphQLError:
        """The parsed and validated document, or the error that stops it from parsing."""
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
            return entry[0]
        self.parses += 1
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError as error:
            return error
        cost = len(query) + BYTES_PER_TOKEN * _unlink_tokens(document)
        errors = validate(schema, document, self.first) if self.first else []
        prepared = (document, errors or validate(schema, document, self._later))
        if cost <= self.max_bytes:
            self._entries[query] = (prepared, cost)
            self.size += cost
            while self.size > self.max_bytes or len(self._entries) > self.max_entries:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.size -= dropped
        return prepared


class Operations:
    """What runs around each operation: its document refused unparsed when over the byte
    limit, else prepared once (parsed and validated, from the cache when seen before) and
    handed to Strawberry; then every error given its documented code, the operation counted
    and timed, and (when tracing is on) a span."""

    def __init__(
        self, documents: DocumentCache, *, max_document_bytes: int, max_variable_values: int
    ) -> None:
        self.documents = documents
        self.max_document_bytes = max_document_bytes
        self.max_variable_values = max_variable_values
        # The document prepared for the operation about to run, for Strawberry's execution
        # context (set and read within one `run`).
        self._prepared: ContextVar[Prepared | None] = ContextVar("prepared", default=None)

    async def run(
        self,
        schema: GraphQLSchema,
        query: str | None,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        execute: Callable[[], Awaitable[ExecutionResult]],
    ) -> ExecutionResult:
        started = time.perf_counter()
        if variables and _more_values(variables, self.max_variable_values):
            # graphql-core coerces every value before any field sees one: 900,000 of them in a
            # 1.8 MB body held the event loop for 750 ms before `_entities` refused them.
            result = ExecutionResult(data=None, errors=[_too_many_values(self.max_variable_values)])
            record_operation(result, "unknown", started)
            return result
        prepared: Prepared | None = None
        if query:
            outcome = self._refuse(query) or self.documents.prepare(schema, query)
            if isinstance(outcome, GraphQLError):  # parsed once, here, and not again
                result = ExecutionResult(data=None, errors=[outcome])
                record_operation(result, "unknown", started)
                return result
            prepared = outcome
            if operation_name is None and _operations(prepared[0]) > 1:
                result = ExecutionResult(data=None, errors=[_name_needed()])
                record_operation(result, "unknown", started)
                return result
        operation = operation_type(prepared, operation_name)
        token = self._prepared.set(prepared)
        try:
            if not tracing_enabled():
                result = await execute()
                record_operation(result, operation, started)
                return result
            with span("graphql.operation", **{"graphql.operation.type": operation}) as current:
                result = await execute()
                current.set_attribute("outcome", record_operation(result, operation, started))
            return result
        finally:
            self._prepared.reset(token)

    def accepts(self, schema: GraphQLSchema, query: str) -> bool:
        """Whether a document would run: under the size limit, parsed and valid (then it is
        cached, and its request does not parse it again)."""
        if self._refuse(query) is not None:
            return False
        prepared = self.documents.prepare(schema, query)
        return not isinstance(prepared, GraphQLError) and not prepared[1]

    def fill(self, context: ExecutionContext) -> None:
        """Give a new operation its document and validation result, so that Strawberry skips
        both steps (it parses and validates only what is not there yet)."""
        context.validation_rules = self.documents.rules
        prepared = self._prepared.get()
        if prepared is not None:
            context.graphql_document = prepared[0]
            context.pre_execution_errors = list(prepared[1])

    def _refuse(self, query: str) -> GraphQLError | None:
        """Documents over the byte limit are refused before any parsing."""
        limit = self.max_document_bytes
        if len(query) <= limit // 4 or len(query.encode()) <= limit:  # 4 bytes a char at most
            return None
        return GraphQLError(
            f"The document is larger than {limit} bytes.",
            extensions={"code": "GRAPHQL_PARSE_FAILED"},
        )


def _more_values(value: object, limit: int) -> bool:
    """Whether `value` holds more than `limit` JSON values, counted without walking further."""
    left = limit
    stack = [value]
    while stack:
        item = stack.pop()
        left -= 1
        if left < 0:
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            if len(item) > left:
                return True
            stack.extend(item)
    return False


def _too_many_values(limit: int) -> GraphQLError:
    return GraphQLError(
        f"The variables hold more than {limit} values.", extensions={"code": "BAD_USER_INPUT"}
    )


def _name_needed() -> GraphQLError:
    return GraphQLError(
        "The document has several operations: name one in `operationName`.",
        extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
    )


def _operations(document: DocumentNode) -> int:
    return sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)


def operation_type(prepared: Prepared | None, operation_name: str | None) -> str:
    """`query`, `mutation`, or `unknown` when there is no document or it lacks the operation."""
    operation = get_operation_ast(prepared[0], operation_name) if prepared else None
    return operation.operation.value if operation else "unknown"


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
