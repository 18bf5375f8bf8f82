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

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

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


def cors_middleware(
    allow_origins: Sequence[str], *, allow_credentials: bool, max_age_s: int
) -> Middleware | None:
    """The middleware for these origins, or None when no origin is allowed."""
    if not allow_origins:
        return None
    exact = [origin for origin in allow_origins if not origin.endswith(":*")]
    any_port = [re.escape(origin[:-2]) for origin in allow_origins if origin.endswith(":*")]
    return Middleware(
        CORSMiddleware,
        allow_origins=exact,
        allow_origin_regex=f"({'|'.join(any_port)})(:[0-9]{{1,5}})?" if any_port else None,
        allow_methods=("GET", "POST"),
        allow_headers=ALLOWED_HEADERS,
        allow_credentials=allow_credentials,
        expose_headers=EXPOSED_HEADERS,
        max_age=max_age_s,
    )
