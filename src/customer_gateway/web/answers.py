"""Error answers the HTTP edge writes itself (a refusal, or a failure below it), in the same
GraphQL error body (`domain.error_body`) that every other error answer has."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import Send

from customer_gateway.domain import error_body

__all__ = ["send_error"]


async def send_error(
    send: Send,
    status: int,
    message: str,
    extensions: Mapping[str, object],
    headers: Mapping[str, str] | None = None,
) -> None:
    raw = [(b"content-type", b"application/json")]
    raw += [(name.encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": error_body(message, extensions)})
