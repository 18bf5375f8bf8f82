"""Domain errors as GraphQL: `userErrors` for expected outcomes, coded errors for the rest.

Every error that leaves the gateway carries `extensions.code` from the documented catalogue;
anything unexpected is masked as INTERNAL with a fixed message and logged with the request id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from graphql.error import GraphQLError, GraphQLSyntaxError

from customer_gateway.api.types import UserError
from customer_gateway.domain import (
    GatewayError,
    UserFacingError,
    error_body,
    error_extensions,
)
from customer_gateway.observability.logging import current_request_id

__all__ = ["REQUEST_ERROR_CODES", "error_body", "to_user_errors", "with_codes"]

# Errors of the request itself (its document), not of executing it.
REQUEST_ERROR_CODES = frozenset({"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"})

logger = logging.getLogger("customer_gateway.errors")

INTERNAL_MESSAGE = "Unexpected error."


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def to_user_errors(
    error: UserFacingError,
    *,
    prefix: Sequence[str] = (),
    renames: Mapping[str, str] | None = None,
) -> list[UserError]:
    """Domain field paths as argument paths: ("last_name",) in "input" -> ["input", "lastName"]."""
    renames = renames or {}
    result = []
    for problem in error.problems:
        path = None
        if problem.field:
            head = renames.get(problem.field[0], _camel(problem.field[0]))
            path = [*prefix, head, *(_camel(part) for part in problem.field[1:])]
        result.append(
            UserError(
                field=path,
                message=problem.message,
                code=problem.code,
                retry_after=problem.retry_after,
            )
        )
    return result


def with_codes(errors: Sequence[GraphQLError]) -> list[GraphQLError]:
    """Every error with a documented `extensions.code`; unexpected ones masked and logged."""
    return [_convert(error) for error in errors]


def _convert(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, GatewayError):
        return _rebuild(error, original.message, error_extensions(original))
    if original is None:
        code = (
            "GRAPHQL_PARSE_FAILED"
            if isinstance(error, GraphQLSyntaxError)
            else "GRAPHQL_VALIDATION_FAILED"
        )
        if error.extensions and "code" in error.extensions:
            return error
        return _rebuild(error, error.message, {"code": code})
    if isinstance(original, GraphQLError):
        return _convert(original)
    logger.error(
        "unexpected error in a resolver",
        exc_info=(type(original), original, original.__traceback__),
        extra={"path": ".".join(str(p) for p in error.path or ())},
    )
    return _rebuild(
        error, INTERNAL_MESSAGE, {"code": "INTERNAL", "requestId": current_request_id()}
    )


def _rebuild(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )
