"""Slow clients are cut off: uvicorn's HTTP protocol with read deadlines and a connection cap.

uvicorn bounds only idle keep-alive connections. A client that sends a request line and then one
header line every few seconds, or a `Content-Length: 1000000` body a byte at a time, holds its
connection and a file descriptor for as long as it likes, and enough such clients starve every
other one; no rate limit sees a request whose head never ends. So this protocol (uvicorn's
httptools protocol with three additions) closes a connection whose request head has not arrived
within `header_timeout_s` of the connection opening (or of the request's first byte, on a kept-alive
connection), and one whose body has not arrived within `body_timeout_s` of its head; and it closes
a new connection at once while a worker holds `max_connections`. A cut-off connection is closed
without an answer: nothing complete was read that could be answered.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

__all__ = ["ConnectionLimits", "LimitedHttpProtocol"]


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 500


class LimitedHttpProtocol(HttpToolsProtocol):
    """One client connection; give uvicorn `functools.partial(LimitedHttpProtocol, limits=...)`."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            transport.close()
            return
        self._arm(self.limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # a kept-alive connection's next request
            self._arm(self.limits.header_timeout_s)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # Until the body is complete; a request without one completes in this same read.
        self._arm(self.limits.body_timeout_s)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._cut_off)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _cut_off(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()
