"""The Strawberry view: builds each request's context from its headers."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from customer_gateway.api.context import GatewayContext, Services
from customer_gateway.api.loaders import Loaders
from customer_gateway.services import Caller, admin_key_matches

__all__ = ["GatewayGraphQL"]


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
        default_document: str | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            allow_queries_via_get=True,
            subscription_protocols=(),
        )
        self.services = services
        self.default_document = default_document

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
            identify=loaders.identity.load,
            client_address=request.client.host if request.client else None,
        )
        return GatewayContext(request, response, self.services, caller, loaders)

    async def render_graphql_ide(self, request: Request) -> Response:
        html = self.graphql_ide_html
        if self.default_document is not None:
            document = json.dumps(self.default_document).replace("</", "<\\/")
            html = html.replace(
                "const EXAMPLE_QUERY = `",
                f"const EXAMPLE_QUERY = {document};\n      const STRAWBERRY_EXAMPLE = `",
                1,
            )
        return HTMLResponse(html)
