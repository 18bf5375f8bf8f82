"""Error answers the HTTP edge writes itself (a refusal, or a failure below it), in the same
GraphQL error body (`domain.error_body`) that every other error answer has."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import Message, Send

from customer_gateway.domain import error_body

__all__ = ["TrackedSend", "send_error"]


class TrackedSend:
    """A `send` that remembers whether the response has begun: once it has, an error answer
    can no longer be sent, and closing the response is all that is left."""

    __slots__ = ("send", "started")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self.send(message)


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
