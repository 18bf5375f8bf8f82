"""Request admission at the HTTP edge: a body-size cap and CSRF prevention for /graphql.

Both run before any parsing or upstream call. CSRF follows Apollo's rule: a browser can send a
"simple" request (GET, or POST as text/plain, form-encoded or multipart) cross-site without a
preflight, so such requests run no operation unless they carry a header that forces one.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["PREFLIGHT_HEADERS", "BodySizeLimitMiddleware", "CsrfMiddleware"]

PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name", "x-requested-with")
_SIMPLE_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")


async def _reply(
    send: Send, status: int, message: str, extra: dict[str, str] | None = None
) -> None:
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]})
    headers = [(b"content-type", b"application/json")]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


class BodySizeLimitMiddleware:
    """413 for bodies over the cap, whether declared by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int = 2_000_000) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _reply(send, 413, "The request body is too large.")
            return
        received = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _reply(send, 413, "The request body is too large.")


class _TooLarge(Exception):
    pass


class CsrfMiddleware:
    """Refuses operations from requests a browser could send cross-site without a preflight."""

    def __init__(self, app: ASGIApp, path: str = "/graphql") -> None:
        self.app = app
        self.path = path

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

    @staticmethod
    def _needs_preflight(method: str, headers: Headers) -> bool:
        if any(headers.get(name) for name in PREFLIGHT_HEADERS):
            return False
        if method == "GET":
            # GraphiQL itself is an HTML page, not an operation.
            return "text/html" not in headers.get("accept", "")
        if method != "POST":
            return False
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        return content_type in _SIMPLE_TYPES or content_type == ""
