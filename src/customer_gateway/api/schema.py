"""The Federation 2 schema: its types, its limits, and what runs around each operation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import strawberry
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.schema.config import StrawberryConfig

from customer_gateway.api.context import Info
from customer_gateway.api.framework import GatewaySchema
from customer_gateway.api.limits import OperationLimits, operation_limits
from customer_gateway.api.mutations import Mutation
from customer_gateway.api.operation import DocumentCache, Operations
from customer_gateway.api.queries import Query
from customer_gateway.api.types import Customer
from customer_gateway.domain import InvalidInputError

__all__ = ["FEDERATION_VERSION", "GatewaySchema", "SchemaOptions", "build_schema", "export_sdl"]

FEDERATION_VERSION: Final = "2.7"


@dataclass(frozen=True)
class SchemaOptions:
    """Operation limits (RELIABILITY.md defaults) and whether introspection is open."""

    introspection: bool = False
    limits: OperationLimits = field(default_factory=OperationLimits)
    max_tokens: int = 2000
    max_document_bytes: int = 65536
    max_representations: int = 100


def build_schema(options: SchemaOptions | None = None) -> GatewaySchema:
    options = options or SchemaOptions()
    rules: list[type[ASTValidationRule]] = []
    if not options.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    documents = DocumentCache(
        rules, first=[operation_limits(options.limits)], max_tokens=options.max_tokens
    )
    operations = Operations(
        documents,
        max_document_bytes=options.max_document_bytes,
        # `_entities` takes a few values per representation; nothing else takes a list.
        max_variable_values=max(1000, 10 * options.max_representations),
    )
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        operations=operations,
        resolve_entities=lambda info, items: entities(info, items, options.max_representations),
        config=StrawberryConfig(disable_field_suggestions=not options.introspection),
        federation_version=FEDERATION_VERSION,
    )


def entities(info: Info, representations: list[Any], limit: int) -> list[Any]:
    """Federation's `_entities`, bounded and strict: at most `limit` items, each exactly
    `{__typename: "Customer", id}`; anything else is BAD_USER_INPUT at its own index."""
    if len(representations) > limit:
        raise InvalidInputError(f"At most {limit} representations per request.")
    return [_entity(info, representation) for representation in representations]


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


def export_sdl(schema: GatewaySchema | None = None) -> str:
    """The public SDL (`schema.graphql`), self-contained for any GraphQL tool."""
    return _FEDERATION_DEFINITIONS + (schema or build_schema()).as_str() + "\n"
