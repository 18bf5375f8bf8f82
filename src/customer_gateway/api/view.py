"""The gateway's GraphQL view: who is calling, which document a request runs, and how answers
are framed.

Every answer is a GraphQL response body (never plain text), as `application/json` or, when the
client asks for it, `application/graphql-response+json`, where a request error (a document that
does not parse or validate) is a 400 without a `data` entry. The mechanics of serving live in
`framework.py`; this module is what the gateway decides.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.http import GraphQLHTTPResponse

from customer_gateway.api.context import GatewayContext, Services
from customer_gateway.api.errors import REQUEST_ERROR_CODES, error_body
from customer_gateway.api.framework import GatewaySchema, GraphQLView
from customer_gateway.api.loaders import RequestLoader
from customer_gateway.api.persisted import PersistedQueryError, resolve_persisted_query
from customer_gateway.api.trusted_documents import TrustedDocuments
from customer_gateway.services import Caller, CustomerReads, Identity, admin_key_matches
from customer_gateway.store import Documents

__all__ = ["GRAPHQL_RESPONSE_JSON", "GatewayGraphQL"]

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


def response_media_type(request: Request) -> str:
    """graphql-response+json when the client lists it before application/json (or alone)."""
    accept = request.headers.get("accept", "")
    modern = accept.find(GRAPHQL_RESPONSE_JSON)
    legacy = accept.find("application/json")
    if modern >= 0 and (legacy < 0 or modern < legacy):
        return GRAPHQL_RESPONSE_JSON
    return "application/json"


def bearer_token(request: Request | WebSocket) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class GatewayGraphQL(GraphQLView):
    def __init__(
        self,
        schema: GatewaySchema,
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
            graphiql=graphiql,
            default_document=default_document,
            asset_prefix=asset_prefix,
        )
        self.services = services
        self.persisted_queries = persisted_queries
        self.trusted_documents = trusted_documents

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> GatewayContext:
        """Who is calling, and the request's reads, over batch loaders of its own."""
        if not (isinstance(request, Request) and isinstance(response, Response)):
            raise TypeError("the gateway serves GraphQL over HTTP only")
        services = self.services
        caller = Caller(
            identity=Identity(services.backends, bearer_token(request), RequestLoader),
            is_admin=admin_key_matches(request.headers.get("x-api-key"), services.admin_keys),
            client_address=getattr(request.state, "client_address", None),
        )
        reads = CustomerReads(services.customers, services.loyalty, caller, RequestLoader)
        request.state.sub_response = response
        return GatewayContext(request, response, services, caller, reads)

    async def resolve_document(
        self,
        query: str | None,
        extensions: dict[str, Any] | None,
        document_id: object,
        operation_name: object,
    ) -> str | None:
        """A trusted document the request names or sends, else the one sent, or the one a
        `persistedQuery` extension names."""
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
            document = await resolve_persisted_query(
                self.persisted_queries, query, persisted, runnable=self.gateway_schema.accepts
            )
        if self.trusted_documents is not None and document is not None:
            self.trusted_documents.note_untrusted(document, operation_name)
        return document

    def error_response(
        self, request: Request, status: int, message: str, code: str = "BAD_REQUEST"
    ) -> Response:
        """A refusal before anything ran (bad JSON, no query, wrong method, a persisted query
        that is not there) as a GraphQL body."""
        headers = {"Allow": "GET, POST"} if status == 405 else None
        return Response(
            error_body(message, {"code": code}),
            status_code=status,
            media_type=response_media_type(request),
            headers=headers,
        )

    def finish_result(self, request: Request, data: GraphQLHTTPResponse) -> GraphQLHTTPResponse:
        media_type = response_media_type(request)
        sub_response: Response = request.state.sub_response
        sub_response.media_type = media_type
        errors: list[Any] = list(data.get("errors") or [])
        request_error = bool(errors) and all(
            e["extensions"]["code"] in REQUEST_ERROR_CODES for e in errors
        )
        if media_type == GRAPHQL_RESPONSE_JSON and request_error and data.get("data") is None:
            sub_response.status_code = 400
            data.pop("data", None)  # a request error has no data entry at all
        return data
