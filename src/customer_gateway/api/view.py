"""The Strawberry view: each request's context, and GraphQL-over-HTTP framing of every answer.

Every answer is a GraphQL response body (never plain text), as `application/json` or, when the
client asks for it, `application/graphql-response+json`, where a request error (a document that
does not parse or validate) is a 400 without a `data` entry.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from customer_gateway.api.context import GatewayContext, Services
from customer_gateway.api.loaders import Loaders
from customer_gateway.api.persisted import PersistedQueryError, resolve_persisted_query
from customer_gateway.api.trusted_documents import TrustedDocuments
from customer_gateway.services import Caller, admin_key_matches
from customer_gateway.store import Documents

__all__ = ["GRAPHQL_RESPONSE_JSON", "GatewayGraphQL"]

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
REQUEST_ERROR_CODES = frozenset({"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"})


def response_media_type(request: Request) -> str:
    """graphql-response+json when the client lists it before application/json (or alone)."""
    accept = request.headers.get("accept", "")
    modern = accept.find(GRAPHQL_RESPONSE_JSON)
    legacy = accept.find("application/json")
    if modern >= 0 and (legacy < 0 or modern < legacy):
        return GRAPHQL_RESPONSE_JSON
    return "application/json"


def _with_codes(errors: list[Any]) -> list[Any]:
    """Errors raised before execution (e.g. a syntax error) get their documented code too."""
    for error in errors:
        extensions = error.setdefault("extensions", {})
        if "code" not in extensions:
            syntax = str(error.get("message", "")).startswith("Syntax Error")
            extensions["code"] = "GRAPHQL_PARSE_FAILED" if syntax else "GRAPHQL_VALIDATION_FAILED"
    return errors


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


def bearer_token(request: Request | WebSocket) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class GatewayGraphQL(GraphQL[GatewayContext, None]):
    def __init__(
        self,
        schema: BaseSchema,
        services: Services,
        *,
        graphiql: bool,
        persisted_queries: Documents | None = None,
        default_document: str | None = None,
        asset_prefix: str | None = None,
        trusted_documents: TrustedDocuments | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            allow_queries_via_get=True,
            subscription_protocols=(),
        )
        self.services = services
        self.persisted_queries = persisted_queries
        self.default_document = default_document
        self.asset_prefix = asset_prefix
        self.trusted_documents = trusted_documents

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> GatewayContext:
        if not (isinstance(request, Request) and isinstance(response, Response)):
            raise TypeError("the gateway serves GraphQL over HTTP only")
        bearer = bearer_token(request)
        is_admin = admin_key_matches(request.headers.get("x-api-key"), self.services.admin_keys)
        loaders = Loaders(self.services.backends, self.services.loyalty, bearer)
        caller = Caller(
            bearer=bearer,
            is_admin=is_admin,
            identify=loaders.identify,
            client_address=getattr(request.state, "client_address", None),
        )
        loaders.bind(self.services.customers, caller)
        request.state.sub_response = response
        return GatewayContext(request, response, self.services, caller, loaders)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)  # several times faster than json.dumps on result trees

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # its errors are json.JSONDecodeError, as the view expects

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        if isinstance(data, GraphQLRequestData):
            document_id = await _document_id(request)
            data.query = await self._document(
                data.query, data.extensions, document_id, data.operation_name
            )
        return data

    def should_render_graphql_ide(self, request: Any) -> bool:
        """A GET that asks for HTML is a page request: GraphiQL when it is on, 404 otherwise.
        It never runs a document, whatever its parameters, and `*/*` alone is no such ask."""
        return bool(request.method == "GET" and "text/html" in request.headers.get("accept", ""))

    async def _document(
        self,
        query: str | None,
        extensions: dict[str, Any] | None,
        document_id: object = None,
        operation_name: object = None,
    ) -> str | None:
        """The document to run: a trusted one the request names or sends, else the one sent, or
        the one a `persistedQuery` extension names."""
        persisted = (extensions or {}).get("persistedQuery")
        if self.trusted_documents is not None:
            listed = self.trusted_documents.listed(query, persisted, document_id)
            if listed is not None:
                return listed
        document = query
        if persisted is not None:
            if self.persisted_queries is None:
                raise PersistedQueryError(
                    200, "PersistedQueryNotSupported", "PERSISTED_QUERY_NOT_SUPPORTED"
                )
            document = await resolve_persisted_query(self.persisted_queries, query, persisted)
        if self.trusted_documents is not None and document is not None:
            self.trusted_documents.note_untrusted(document, operation_name)
        return document

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await Response(status_code=404)(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self._json_post(request) or await self.run(request)
        except HTTPException as error:
            response = self.error_response(request, error.status_code, error.reason)
        except PersistedQueryError as error:
            response = self.error_response(request, error.status, error.message, error.code)
        await response(scope, receive, send)

    async def _json_post(self, request: Request) -> Response | None:
        """The common request, one operation POSTed as JSON, answered without Strawberry's
        generic view machinery (stream transports, multipart, websockets, and a runtime-protocol
        isinstance check per result that alone cost 17 us): 66 us of its per-request cost.
        Anything else, including every malformed request, returns None: the full view then
        answers it, refusals included. Nothing has run by then."""
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
        query = await self._document(query, extensions, data.get("documentId"), name)
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
        return self.create_response(response_data, sub_response)

    def error_response(
        self, request: Request, status: int, message: str, code: str = "BAD_REQUEST"
    ) -> Response:
        """A transport-level refusal (bad JSON, no query, wrong method) as a GraphQL body."""
        body = {"errors": [{"message": message, "extensions": {"code": code}}]}
        headers = {"Allow": "GET, POST"} if status == 405 else None
        return Response(
            self.encode_json(body),
            status_code=status,
            media_type=response_media_type(request),
            headers=headers,
        )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        data = await super().process_result(request, result)
        errors: list[Any] = _with_codes(list(data.get("errors") or []))
        media_type = response_media_type(request)
        sub_response: Response = request.state.sub_response
        sub_response.media_type = media_type
        request_error = bool(errors) and all(
            e["extensions"]["code"] in REQUEST_ERROR_CODES for e in errors
        )
        if media_type == GRAPHQL_RESPONSE_JSON and request_error and data.get("data") is None:
            sub_response.status_code = 400
            data.pop("data", None)  # a request error has no data entry at all
        return data

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media_type = sub_response.media_type or "application/json"
        response.headers["content-type"] = media_type
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
