"""Slow and greedy clients are cut off: uvicorn's HTTP protocol with deadlines and caps.

uvicorn bounds only idle keep-alive connections. A client that sends a request line and then one
header line every few seconds, a `Content-Length: 1000000` body a byte at a time, one blank line
after its last answer, or a request whose answer it never reads, holds its connection and a file
descriptor for as long as it likes; enough of them starve every other client, and no rate limit
sees a request whose head never ends. So this protocol (uvicorn's httptools protocol with a few
additions) closes a connection:

- whose request head has not arrived within `header_timeout_s` of its first byte (or of the
  connection opening), counting any byte, blank lines included;
- whose body has not arrived within `body_timeout_s` of its head;
- whose answer the client has not read for `write_timeout_s` (the send buffer stays full);
- whose request head grows past `max_header_bytes` (answered 431);

and it closes a new connection at once while the worker holds `max_connections`, or while its
client address holds `max_connections_per_address` (not counted for trusted proxies, which carry
many clients). Requests the parser cannot read are answered with a GraphQL error body and a
request id, like every other refusal.
"""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from customer_gateway.domain import error_body

__all__ = ["ConnectionCounts", "ConnectionLimits", "LimitedHttpProtocol"]


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a client may take and how many connections it may hold (`[gateway]`)."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    write_timeout_s: float = 30.0
    max_header_bytes: int = 65536
    max_connections: int = 500
    max_connections_per_address: int = 50  # 0: no cap per address
    trusted_proxies: Sequence[str] = ()

    @classmethod
    def local_tool(cls) -> ConnectionLimits:
        """For `demo` and `sandbox` on loopback: the gateway's own upstream calls and a load
        generator come from one address, so only the deadlines apply."""
        return cls(max_connections=10_000, max_connections_per_address=0)


@dataclass
class ConnectionCounts:
    """The connections one worker holds per client address."""

    per_address: Counter[str] = field(default_factory=Counter)


class Deadline:
    """One timer that is armed anew, disarmed, or runs `expire` once."""

    def __init__(self, loop: asyncio.AbstractEventLoop, expire: Callable[[], None]) -> None:
        self._loop = loop
        self._expire = expire
        self._handle: asyncio.TimerHandle | None = None

    @property
    def armed(self) -> bool:
        return self._handle is not None

    def arm(self, seconds: float) -> None:
        self.disarm()
        self._handle = self._loop.call_later(seconds, self._run)

    def disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _run(self) -> None:
        self._handle = None
        self._expire()


class LimitedHttpProtocol(HttpToolsProtocol):
    """One client connection; give uvicorn
    `functools.partial(LimitedHttpProtocol, limits=..., counts=ConnectionCounts())`."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits,
        counts: ConnectionCounts,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self.counts = counts
        self._trusted = [ipaddress.ip_network(p, strict=False) for p in limits.trusted_proxies]
        self._read_deadline = Deadline(self.loop, self._cut_off)  # the head's, or the body's
        self._write_deadline = Deadline(self.loop, self._cut_off_writes)
        self._address: str | None = None  # counted against its address's cap
        self._head_bytes: int | None = 0  # bytes of the request head so far; None once read
        self._answering: RequestResponseCycle | None = None  # the request the app is on

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections or not self._admit():
            transport.close()
            return
        self._read_deadline.arm(self.limits.header_timeout_s)

    def _admit(self) -> bool:
        cap = self.limits.max_connections_per_address
        host = self.client[0] if self.client else None
        if not cap or host is None or self._trusted_proxy(host):
            return True
        if self.counts.per_address[host] >= cap:
            return False
        self.counts.per_address[host] += 1
        self._address = host
        return True

    def _trusted_proxy(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._trusted)

    def connection_lost(self, exc: Exception | None) -> None:
        self._read_deadline.disarm()
        self._write_deadline.disarm()
        if self._address is not None:
            self.counts.per_address[self._address] -= 1
            if not self.counts.per_address[self._address]:
                del self.counts.per_address[self._address]
            self._address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._read_deadline.armed:  # the first byte of a request, or a blank line
            self._read_deadline.arm(self.limits.header_timeout_s)
        if self._head_bytes is not None:
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(431, "The request's headers are too large.")
                return
        super().data_received(data)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        self._answering = cycle
        super()._start_asgi_task(cycle, app)

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        super().on_headers_complete()
        # Until the body is complete; a request without one completes in this same read.
        self._read_deadline.arm(self.limits.body_timeout_s)

    def on_message_complete(self) -> None:
        self._read_deadline.disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._head_bytes = 0  # a kept-alive connection's next request
        super().on_response_complete()

    def pause_writing(self) -> None:
        """The client stopped reading: it has `write_timeout_s` to start again."""
        super().pause_writing()
        if not self._write_deadline.armed:
            self._write_deadline.arm(self.limits.write_timeout_s)

    def resume_writing(self) -> None:
        self._write_deadline.disarm()
        super().resume_writing()

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, "The request is not valid HTTP.")

    def _refuse(self, status: int, message: str) -> None:
        """A request refused before it reached the app: a GraphQL error body, a request id."""
        body = error_body(message, {"code": "BAD_REQUEST"})
        reason = b"Bad Request" if status == 400 else b"Request Header Fields Too Large"
        head = [
            b"HTTP/1.1 %d %s\r\n" % (status, reason),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"x-request-id: %s\r\n" % str(uuid.uuid4()).encode(),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()

    def _cut_off(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def _cut_off_writes(self) -> None:
        # Before the transport goes, every request of the connection is marked gone (uvicorn
        # marks only its latest, not one still answering ahead of pipelined ones): the app's
        # next write is then dropped as a vanished client's, not an error.
        cycles = [self._answering, self.cycle, *(cycle for cycle, _ in self.pipeline)]
        for cycle in cycles:
            if cycle is not None and not cycle.response_complete:
                cycle.disconnected = True
        if not self.transport.is_closing():
            self.transport.abort()  # its unsent answer is dropped: nobody is reading it
