"""The base of the gateway's pure ASGI middleware: HTTP requests only."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["HttpMiddleware"]


class HttpMiddleware:
    """Lifespan and websocket scopes go straight through; `handle` sees each HTTP request.
    Pure ASGI rather than Starlette's BaseHTTPMiddleware, which costs a task per request and
    buffers nothing the gateway needs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError
