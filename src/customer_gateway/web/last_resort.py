"""The last resort: whatever fails below it, the client gets a GraphQL error body."""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from customer_gateway.domain import BackendUnavailableError, GatewayError, error_extensions
from customer_gateway.observability.logging import current_request_id
from customer_gateway.web.answers import TrackedSend, send_error
from customer_gateway.web.http_middleware import HttpMiddleware

__all__ = ["LastResortMiddleware"]

errors_logger = logging.getLogger("customer_gateway.errors")


class LastResortMiddleware(HttpMiddleware):
    """Whatever fails below it, the client gets a GraphQL error body with `extensions.code`
    (and, from the request-id middleware around it, `X-Request-ID`), the connection stays
    usable, and one log line names the request id and the exception's type.

    Documented errors keep their code (a store outage that reached this far is
    BACKEND_UNAVAILABLE, 503); anything else is INTERNAL (500) with a fixed message. A client
    that went away gets nothing (see RequestIdMiddleware).
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracked = TrackedSend(send)
        try:
            await self.app(scope, receive, tracked)
        except ClientDisconnect:
            raise  # nobody is left to answer: the request id's line says 499
        except Exception as error:
            errors_logger.error(
                "request failed outside GraphQL execution",
                extra={
                    "error": type(error).__name__,
                    "path": scope.get("path"),
                    "request_id": current_request_id(),
                },
            )
            if not tracked.started:  # once a response has begun, closing it is all that is left
                await _answer(send, error)


async def _answer(send: Send, error: Exception) -> None:
    if isinstance(error, GatewayError):
        status = 503 if isinstance(error, BackendUnavailableError) else 500
        await send_error(send, status, error.message, error_extensions(error))
        return
    extensions = {"code": "INTERNAL", "requestId": current_request_id()}
    await send_error(send, 500, "Unexpected error.", extensions)
