"""Request admission at the HTTP edge: a body-size cap and CSRF prevention for /graphql.

Both run before any parsing or upstream call. CSRF follows Apollo Server's rule: a browser sends
a request cross-site without a CORS preflight only when its Content-Type, if it has one, is
text/plain, form-encoded or multipart and it carries no custom header; such a request runs no
operation unless it carries one of the headers below. Any other Content-Type (a GET with
`Content-Type: application/json` included) cannot be sent cross-site without a preflight.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from customer_gateway.web.answers import TrackedSend, send_error
from customer_gateway.web.http_middleware import HttpMiddleware

__all__ = ["PREFLIGHT_HEADERS", "BodySizeLimitMiddleware", "CsrfMiddleware"]

PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name")
_SIMPLE_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")


async def _reply(send: Send, status: int, message: str) -> None:
    await send_error(send, status, message, {"code": "BAD_REQUEST"})


class BodySizeLimitMiddleware(HttpMiddleware):
    """413 for bodies over the cap, whether declared by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int = 2_000_000) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _reply(send, 413, "The request body is too large.")
            return
        received = 0
        tracked = TrackedSend(send)

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, capped_receive, tracked)
        except _TooLarge:
            if not tracked.started:
                await _reply(send, 413, "The request body is too large.")


class _TooLarge(Exception):
    pass


class CsrfMiddleware:
    """Refuses operations from requests a browser could send cross-site without a preflight.

    `page_requests`: GraphiQL is on, so a GET asking for HTML loads its page (the view runs no
    document for such a GET) and needs no preflight. With GraphiQL off no request is exempt.
    """

    def __init__(
        self, app: ASGIApp, path: str = "/graphql", *, page_requests: bool = False
    ) -> None:
        self.app = app
        self.path = path
        self.page_requests = page_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self._needs_preflight(scope["method"], headers):
            names = ", ".join(h.title() for h in PREFLIGHT_HEADERS[:2])
            await _reply(
                send,
                400,
                "This operation has been blocked as a potential Cross-Site Request Forgery. "
                f"Send Content-Type: application/json, or one of these headers: {names}.",
            )
            return
        await self.app(scope, receive, send)

    def _needs_preflight(self, method: str, headers: Headers) -> bool:
        if method not in ("GET", "POST"):
            return False  # the view answers 405 and runs nothing
        if method == "GET" and self.page_requests and "text/html" in headers.get("accept", ""):
            return False
        content_type = headers.get("content-type")
        if content_type is not None:
            media_type = content_type.split(";")[0].strip().lower()
            if media_type not in _SIMPLE_TYPES:
                return False  # not sendable cross-site without a preflight
        return not any(headers.get(name) for name in PREFLIGHT_HEADERS)
