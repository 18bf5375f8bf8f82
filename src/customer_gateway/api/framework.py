"""The one door to Strawberry's and graphql-core's internals: every place the gateway reaches
past their public API, each for a measured reason, and nothing else.

Checked against strawberry-graphql 0.341.2 and graphql-core 3.3.2 (pinned to 3.3 in
pyproject.toml). On an upgrade, this module and the tests named below are what to look at;
`tests/integration/test_view_paths.py` runs one corpus of requests through both POST paths and
asserts identical answers.

- `GatewaySchema.execute` (overrides `Schema.execute`): the document is prepared first, by the
  gateway's own cache (`operation.py`), so a request parses its document at most once and a
  repeated one not at all; error codes, metrics and the span are done around Strawberry's
  execution instead of in schema extensions, which Strawberry rebuilds and wraps on every
  request (six of them cost more than executing a small query).
- `GatewaySchema._create_execution_context` (private): hands Strawberry the prepared document
  and its validation result, so that it neither parses nor validates (it does only what a
  context lacks). Pinned by `test_document_cache.py`.
- `STRAWBERRY_RULES`: Strawberry adds these two validation rules to whatever rules it is given;
  the cache validates with them too, so its result is the one Strawberry would have produced.
- `GatewaySchema.entities_resolver` (overrides federation's): Strawberry's own pops keys out of
  variables shared between fields and raises on what a client may send (`test_bounded_work.py`).
- `GatewaySchema.process_errors`: Strawberry logs every error; the gateway logs the unexpected
  ones itself, with the request id (`api/errors.py`).
- `AcyclicExecutionContext` (graphql-core's executor): drops the executor's `async_helpers`, its
  reference to itself, once an operation is done, so reference counting frees the request
  rather than the cyclic collector (about a fifth of the CPU under load;
  `test_request_garbage.py`).
- `selected_fields` (reads `info._raw_info`): which fields the client selected below this one,
  fragments expanded, from graphql-core's nodes; Strawberry's `selected_fields` converts the
  whole selection tree, arguments included, which costs more than the hint saves.
- `GraphQLView` (subclasses `strawberry.asgi.GraphQL`): `_json_post` answers the common request,
  one operation POSTed as JSON, without the generic view machinery (stream transports,
  multipart, a runtime-protocol check per result: 66 us a request); everything else, refusals
  included, goes through the full view. `parse_http_body`, `should_render_graphql_ide`,
  `process_result`, `create_response` and `render_graphql_ide` add the gateway's documents,
  page requests, media types and GraphiQL page to the full view.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import orjson
import strawberry
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
)
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.federation.schema import FederationAny
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

__all__ = [
    "STRAWBERRY_RULES",
    "AcyclicExecutionContext",
    "GatewaySchema",
    "GraphQLView",
    "OperationHooks",
    "Refusal",
    "selected_fields",
]

STRAWBERRY_RULES = (MaybeNullValidationRule, OneOfInputValidationRule)


class OperationHooks(Protocol):
    """What the gateway runs around each operation (`operation.Operations`)."""

    async def run(
        self,
        schema: GraphQLSchema,
        query: str | None,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        execute: Callable[[], Awaitable[ExecutionResult]],
    ) -> ExecutionResult:
        """Strawberry's own execution (`execute`), with whatever goes around it."""
        ...

    def fill(self, context: ExecutionContext) -> None:
        """Give a new execution context what Strawberry should not work out again."""
        ...

    def accepts(self, schema: GraphQLSchema, query: str) -> bool:
        """Whether a document would run (parses, validates, within the limits)."""
        ...


class Refusal(Exception):
    """A request refused before anything ran, answered as a GraphQL error body with its own
    HTTP status and code (a persisted query that is not there, a document not trusted)."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


class AcyclicExecutionContext(StrawberryGraphQLCoreExecutionContext):
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
        self,
        *args: Any,
        operations: OperationHooks,
        resolve_entities: Callable[[Any, list[Any]], list[Any]],
        **kwargs: Any,
    ) -> None:
        kwargs["execution_context_class"] = AcyclicExecutionContext
        super().__init__(*args, **kwargs)
        self.operations = operations
        self._resolve_entities = resolve_entities

    def _create_execution_context(self, *args: Any, **kwargs: Any) -> ExecutionContext:
        context = super()._create_execution_context(*args, **kwargs)
        self.operations.fill(context)
        return context

    def entities_resolver(
        self, info: strawberry.Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        return [FederationAny(item) for item in self._resolve_entities(info, representations)]

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
        def strawberry_execute() -> Awaitable[ExecutionResult]:
            return super(GatewaySchema, self).execute(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                allowed_operation_types,
                operation_extensions,
            )

        return await self.operations.run(
            self._schema, query, operation_name, variable_values, strawberry_execute
        )

    def accepts(self, query: str) -> bool:
        return self.operations.accepts(self._schema, query)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """The gateway logs unexpected errors itself; expected ones are no server problem."""


def selected_fields(info: strawberry.Info, path: Sequence[str]) -> Iterator[FieldNode]:
    """The fields selected under `path` below this field, fragments expanded."""
    raw = info._raw_info
    level: list[SelectionSetNode | None] = [node.selection_set for node in raw.field_nodes]
    for depth in range(len(path) + 1):
        found: list[FieldNode] = []
        while level:
            selection_set = level.pop()
            for selection in selection_set.selections if selection_set else ():
                if isinstance(selection, FieldNode):
                    found.append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    level.append(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    fragment = raw.fragments.get(selection.name.value)
                    level.append(fragment.selection_set if fragment else None)
        if depth == len(path):
            yield from found
            return
        level = [f.selection_set for f in found if f.name.value == path[depth]]


_POST_OPERATIONS = OperationType.from_http("POST")
_STREAMING = ("multipart/mixed", "text/event-stream")


def _plain_json(request: Request) -> bool:
    """A JSON body, and an answer wanted as one JSON document (not a stream)."""
    content_type = request.headers.get("content-type", "")
    accept = request.headers.get("accept", "")
    return content_type.split(";")[0].strip().lower() == "application/json" and not any(
        kind in accept for kind in _STREAMING
    )


async def _document_id(request: AsyncHTTPRequestAdapter) -> object:
    """A top-level `documentId` (trusted documents), which Strawberry's parser leaves out."""
    if request.method == "GET":
        return request.query_params.get("documentId")
    body = await request.get_body()  # already read and kept by the parser
    if b"documentId" not in body:
        return None
    data = orjson.loads(body)
    return data.get("documentId") if isinstance(data, dict) else None


class GraphQLView(GraphQL[Any, None]):
    """Strawberry's ASGI view with the gateway's fast path, documents and response framing.

    Subclasses supply `get_context`, `resolve_document` (which document a request runs; it
    may raise `Refusal`), `error_response` (a refusal as a GraphQL body) and `finish_result`
    (media type and status of an answer); `fast_path` False sends every request through the
    full view; `fast_answers` counts the requests the fast path answered.
    """

    fast_path = True
    fast_answers = 0

    def __init__(
        self,
        schema: GatewaySchema,
        *,
        graphiql: bool,
        default_document: str | None = None,
        asset_prefix: str | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            allow_queries_via_get=True,
            subscription_protocols=(),
        )
        self.gateway_schema = schema  # `schema` with its own type, for subclasses
        self.default_document = default_document
        self.asset_prefix = asset_prefix

    async def resolve_document(
        self,
        query: str | None,
        extensions: dict[str, Any] | None,
        document_id: object,
        operation_name: object,
    ) -> str | None:
        return query

    def error_response(
        self, request: Request, status: int, message: str, code: str = "BAD_REQUEST"
    ) -> Response:
        raise NotImplementedError

    def finish_result(self, request: Request, data: GraphQLHTTPResponse) -> GraphQLHTTPResponse:
        return data

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)  # several times faster than json.dumps on result trees

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # its errors are json.JSONDecodeError, as the view expects

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        try:
            data = await super().parse_http_body(request)
        except AttributeError:  # Strawberry calls .get() on any JSON: null, 5, "x", true
            raise HTTPException(400, "The body must be a JSON object.") from None
        if isinstance(data, GraphQLRequestData):
            data.query = await self.resolve_document(
                data.query, data.extensions, await _document_id(request), data.operation_name
            )
        return data

    def should_render_graphql_ide(self, request: Any) -> bool:
        """A GET that asks for HTML is a page request: GraphiQL when it is on, 404 otherwise.
        It never runs a document, whatever its parameters, and `*/*` alone is no such ask."""
        return bool(request.method == "GET" and "text/html" in request.headers.get("accept", ""))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await Response(status_code=404)(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = (self.fast_path and await self._json_post(request)) or await self.run(
                request
            )
        except HTTPException as error:
            response = self.error_response(request, error.status_code, error.reason)
        except Refusal as refusal:
            response = self.error_response(request, refusal.status, refusal.message, refusal.code)
        await response(scope, receive, send)

    async def _json_post(self, request: Request) -> Response | None:
        """One operation POSTed as JSON, or None: the full view then answers the request,
        refusals included. Nothing has run by then."""
        if request.method != "POST" or not _plain_json(request):
            return None
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        query, variables = data.get("query"), data.get("variables")
        name, extensions = data.get("operationName"), data.get("extensions")
        if not (
            isinstance(query, str | None)
            and isinstance(variables, dict | None)
            and isinstance(name, str | None)
            and isinstance(extensions, dict | None)
        ):
            return None
        query = await self.resolve_document(query, extensions, data.get("documentId"), name)
        if query is None:
            return None  # no document at all: the full view words the refusal
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, sub_response)
        try:
            result = await self.schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=name,
                allowed_operation_types=_POST_OPERATIONS,
                operation_extensions=extensions,
            )
        except (CannotGetOperationTypeError, InvalidOperationTypeError, MissingQueryError):
            return None  # raised before anything ran; the full view words the refusal
        response_data = await self.process_result(request, result)
        self.fast_answers += 1
        return self.create_response(response_data, sub_response)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Any:
        raise NotImplementedError

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        return self.finish_result(request, await super().process_result(request, result))

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = sub_response.media_type or "application/json"
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        html = self.graphql_ide_html
        if self.asset_prefix is not None:
            html = html.replace("https://unpkg.com/", self.asset_prefix)
        if self.default_document is not None:
            document = json.dumps(self.default_document).replace("</", "<\\/")
            html = html.replace(
                "const EXAMPLE_QUERY = `",
                f"const EXAMPLE_QUERY = {document};\n      const STRAWBERRY_EXAMPLE = `",
                1,
            )
        return HTMLResponse(html)
