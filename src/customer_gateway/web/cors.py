"""Cross-origin browser access (`[cors]`): Starlette's CORS middleware, set up for GraphQL clients.

Preflights from allowed origins are answered here, before the CSRF rule and the view's 405;
every other answer to an allowed origin gets `Access-Control-Allow-Origin`, `Vary: Origin` and
the headers a client needs to read (its request id, and `Retry-After` on a 429). Other origins
never get `Access-Control-Allow-Origin`. An origin written with port `*` allows any port of that
scheme and host (the demo's `http://localhost:*`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from customer_gateway.domain import error_body

__all__ = ["ALLOWED_HEADERS", "EXPOSED_HEADERS", "cors_middleware"]

ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "x-api-key",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "x-request-id",
)
EXPOSED_HEADERS = ("X-Request-ID", "Retry-After")


class GatewayCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, answering a preflight as the gateway answers anything: an accepted
    one with 204 and no body, a refused one with a GraphQL error body (not plain text)."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        headers.pop("content-type", None)
        if response.status_code == 200:
            return Response(status_code=204, headers=headers)
        message = f"This cross-origin request is not allowed ({bytes(response.body).decode()})."
        return Response(
            error_body(message, {"code": "BAD_REQUEST"}),
            status_code=response.status_code,
            headers=headers,
            media_type="application/json",
        )


def cors_middleware(
    allow_origins: Sequence[str], *, allow_credentials: bool, max_age_s: int
) -> Middleware | None:
    """The middleware for these origins, or None when no origin is allowed."""
    if not allow_origins:
        return None
    exact = [origin for origin in allow_origins if not origin.endswith(":*")]
    any_port = [re.escape(origin[:-2]) for origin in allow_origins if origin.endswith(":*")]
    return Middleware(
        GatewayCORSMiddleware,
        allow_origins=exact,
        allow_origin_regex=f"({'|'.join(any_port)})(:[0-9]{{1,5}})?" if any_port else None,
        allow_methods=("GET", "POST"),
        allow_headers=ALLOWED_HEADERS,
        allow_credentials=allow_credentials,
        expose_headers=EXPOSED_HEADERS,
        max_age=max_age_s,
    )
