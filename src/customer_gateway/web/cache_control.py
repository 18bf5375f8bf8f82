"""Answers to requests that carry credentials are never kept by a shared cache.

A GET answer is cacheable by default, and the answer to `me` with a bearer token is one
customer's data: `Cache-Control: private, no-store` on every answer to a request carrying
`Authorization` or `X-Api-Key`, refusals included, whatever the route set.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CREDENTIAL_HEADERS", "PrivateAnswersMiddleware"]

CREDENTIAL_HEADERS = (b"authorization", b"x-api-key")


class PrivateAnswersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not any(
            name in CREDENTIAL_HEADERS for name, _ in scope["headers"]
        ):
            await self.app(scope, receive, send)
            return

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Cache-Control"] = "private, no-store"
            await send(message)

        await self.app(scope, receive, send_private)
