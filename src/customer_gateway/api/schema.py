"""The Federation 2 schema and its cross-cutting extensions (limits, error codes, caches)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import strawberry
from graphql.error import GraphQLError
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.federation.schema import FederationAny
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from customer_gateway.api.context import Info
from customer_gateway.api.limits import OperationLimits, operation_limits
from customer_gateway.api.mutations import Mutation
from customer_gateway.api.operation import (
    DocumentCache,
    Prepared,
    fill,
    operation_type,
    prepared_document,
    record_operation,
)
from customer_gateway.api.queries import Query
from customer_gateway.api.types import Customer
from customer_gateway.domain import InvalidInputError
from customer_gateway.observability.tracing import span, tracing_enabled

__all__ = ["FEDERATION_VERSION", "SchemaOptions", "build_schema", "export_sdl"]

FEDERATION_VERSION: Final = "2.7"


@dataclass(frozen=True)
class SchemaOptions:
    """Operation limits (RELIABILITY.md defaults) and whether introspection is open."""

    introspection: bool = False
    max_depth: int = 15
    max_aliases: int = 15
    max_tokens: int = 2000
    max_root_fields: int = 10
    max_document_bytes: int = 65536
    max_representations: int = 100


class AcyclicExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor refers to itself through its async helpers; dropping them once
    the operation is done lets reference counting free everything the request touched, rather
    than the cyclic collector (measured at about a fifth of the CPU under load)."""

    def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        result = super().execute_operation(*args, **kwargs)
        if not self.is_awaitable(result):
            self._release()
            return result

        async def finished() -> Any:
            try:
                return await result
            finally:
                self._release()

        return finished()

    def _release(self) -> None:
        self.__dict__.pop("async_helpers", None)


class GatewaySchema(strawberry.federation.Schema):
    def __init__(
        self, *args: Any, documents: DocumentCache, options: SchemaOptions, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.documents = documents
        self.options = options

    def _create_execution_context(self, *args: Any, **kwargs: Any) -> ExecutionContext:
        """Strawberry parses and validates only what a context lacks: the document prepared
        by `execute` and its validation result go in first, so a request parses its document
        at most once, and a repeated query not at all (tests pin both)."""
        context = super()._create_execution_context(*args, **kwargs)
        fill(context, self.documents.rules)
        return context

    def _refuse_document(self, query: str) -> GraphQLError | None:
        """Documents over the byte limit are refused before any parsing."""
        limit = self.options.max_document_bytes
        if len(query) <= limit // 4 or len(query.encode()) <= limit:  # 4 bytes a char at most
            return None
        return GraphQLError(
            f"The document is larger than {limit} bytes.",
            extensions={"code": "GRAPHQL_PARSE_FAILED"},
        )

    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """Federation's `_entities`, bounded and strict: at most `max_representations` items,
        each exactly `{__typename: "Customer", id}`; anything else is BAD_USER_INPUT at its
        own index (Strawberry's own resolver pops keys out of shared variables and raises
        KeyError or TypeError on what a client may send)."""
        limit = self.options.max_representations
        if len(representations) > limit:
            raise InvalidInputError(f"At most {limit} representations per request.")
        return [FederationAny(_entity(info, item)) for item in representations]

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Strawberry's execution, then documented error codes, metrics and (when on) a span."""
        started = time.perf_counter()
        prepared: Prepared | None = None
        if query:
            outcome = self._refuse_document(query) or self.documents.prepare(self._schema, query)
            if isinstance(outcome, GraphQLError):  # parsed once, here, and not again
                result = ExecutionResult(data=None, errors=[outcome])
                record_operation(result, "unknown", started)
                return result
            prepared = outcome
        arguments = (
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types,
            operation_extensions,
        )
        operation = operation_type(prepared, operation_name)
        token = prepared_document.set(prepared)
        try:
            if not tracing_enabled():
                result = await super().execute(*arguments)
                record_operation(result, operation, started)
                return result
            with span("graphql.operation", **{"graphql.operation.type": operation}) as current:
                result = await super().execute(*arguments)
                current.set_attribute("outcome", record_operation(result, operation, started))
            return result
        finally:
            prepared_document.reset(token)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """record_operation logs the unexpected errors; expected ones are not server problems."""


def build_schema(options: SchemaOptions | None = None) -> strawberry.federation.Schema:
    options = options or SchemaOptions()
    # The limit rules are built once, with the document cache that validates under them.
    limits = OperationLimits(options.max_depth, options.max_aliases, options.max_root_fields)
    rules: list[type[ASTValidationRule]] = [operation_limits(limits)]
    if not options.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    documents = DocumentCache(rules, max_tokens=options.max_tokens)
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        execution_context_class=AcyclicExecutionContext,
        documents=documents,
        options=options,
        config=StrawberryConfig(disable_field_suggestions=not options.introspection),
        federation_version=FEDERATION_VERSION,
    )


def _entity(info: Info, representation: Any) -> Any:
    """One representation's customer (an awaitable), or the error to report at its index."""
    if (
        not isinstance(representation, dict)
        or representation.keys() != {"__typename", "id"}
        or representation["__typename"] != "Customer"
        or not isinstance(representation["id"], str)
    ):
        return InvalidInputError('A representation is {"__typename": "Customer", "id": <ID>}.')
    return Customer.resolve_reference(info, strawberry.ID(representation["id"]))


# The federation directives the SDL uses, declared so that plain GraphQL tooling (graphql-js
# buildSchema, codegen) accepts schema.graphql as it is.
_FEDERATION_DEFINITIONS = """\
directive @link(url: String!, as: String, for: link__Purpose, import: [link__Import]) \
repeatable on SCHEMA

directive @key(fields: federation__FieldSet!, resolvable: Boolean = true) \
repeatable on OBJECT | INTERFACE

scalar link__Import

scalar federation__FieldSet

enum link__Purpose {
  SECURITY
  EXECUTION
}

"""


def export_sdl(schema: strawberry.federation.Schema | None = None) -> str:
    """The public SDL (`schema.graphql`), self-contained for any GraphQL tool."""
    return _FEDERATION_DEFINITIONS + (schema or build_schema()).as_str() + "\n"
