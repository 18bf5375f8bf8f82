"""A request id on every request, response and log line (the client's, if it sent a sane one)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive, Scope, Send

from customer_gateway.observability.logging import request_id_var
from customer_gateway.web.http_middleware import HttpMiddleware

__all__ = ["RequestIdMiddleware"]

logger = logging.getLogger("customer_gateway.access")

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware(HttpMiddleware):
    """Accepts a sane client `X-Request-ID` or makes one, returns it, and logs the request.
    A client that disconnects before its body arrived is logged with status 499, not as an
    error of the app: there is nobody left to answer."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        offered = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), ""
        )
        request_id = offered if _SANE_ID.match(offered) else str(uuid.uuid4())
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            status = 499  # gone before its body arrived (or cut off for being slow): no answer
        finally:
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )
            request_id_var.reset(token)
