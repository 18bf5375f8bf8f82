"""Pieces every vendor emulator shares: a settable clock, a request journal, an OTP outbox, JWTs.

The emulators import nothing from the gateway; this module is part of the sandbox and is written
for the emulators alone (journal and outbox are how tests and the demo look inside them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "Clock",
    "Journal",
    "JournalEntry",
    "JournalMiddleware",
    "Outbox",
    "OutboxMessage",
    "emulator_app",
    "inspection_routes",
    "is_inspection",
    "jwt_decode_hs256",
    "jwt_encode_hs256",
]


class Clock:
    """Wall-clock time with an offset that tests can move forward (expiry in milliseconds)."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._offset = 0.0

    def now(self) -> float:
        return self._source() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One request as the emulator received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    request_id: str | None
    at: float

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["body"] = self.body.decode("utf-8", "replace")
        return data


@dataclass
class Journal:
    """Every request an emulator received, in order; tests count upstream calls with it."""

    entries: list[JournalEntry] = field(default_factory=list)

    def record(self, entry: JournalEntry) -> None:
        self.entries.append(entry)

    def clear(self) -> None:
        self.entries.clear()

    def matching(self, method: str | None = None, path_contains: str = "") -> list[JournalEntry]:
        return [
            e
            for e in self.entries
            if (method is None or e.method == method.upper()) and path_contains in e.path
        ]

    def count(self, method: str | None = None, path_contains: str = "") -> int:
        return len(self.matching(method, path_contains))


def is_inspection(scope: Scope) -> bool:
    """A request for the sandbox's own inspection routes (mounted or not): not vendor traffic."""
    relative = str(scope["path"]).removeprefix(str(scope.get("root_path", "")))
    return relative.startswith("/_sandbox")


class JournalMiddleware:
    """ASGI middleware that records each HTTP request (headers and full body) in a Journal."""

    def __init__(self, app: ASGIApp, journal: Journal, clock: Clock) -> None:
        self.app = app
        self.journal = journal
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_inspection(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.journal.record(
            JournalEntry(
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                headers=headers,
                body=body,
                request_id=headers.get("x-request-id"),
                at=self.clock.now(),
            )
        )
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A one-time code the emulated vendor 'sent' by email or SMS."""

    channel: str  # "email" | "sms"
    to: str
    code: str
    purpose: str
    at: float


@dataclass
class Outbox:
    """Where emulated vendors deliver OTP codes; never reachable through the vendor API."""

    messages: list[OutboxMessage] = field(default_factory=list)

    def deliver(self, message: OutboxMessage) -> None:
        self.messages.append(message)

    def latest(self, to: str | None = None) -> OutboxMessage | None:
        for message in reversed(self.messages):
            if to is None or message.to == to:
                return message
        return None


def inspection_routes(journal: Journal, outbox: Outbox | None = None) -> list[Route]:
    """`/_sandbox/journal` and `/_sandbox/outbox`: sandbox-only views for the demo and tests."""

    async def show_journal(request: Request) -> Response:
        if request.method == "DELETE":
            journal.clear()
            return Response(status_code=204)
        if request.query_params.get("count"):  # cheap, for benchmarks counting upstream calls
            return JSONResponse({"count": len(journal.entries)})
        return JSONResponse([e.to_dict() for e in journal.entries])

    async def show_outbox(request: Request) -> Response:
        return JSONResponse([asdict(m) for m in outbox.messages] if outbox else [])

    return [
        Route("/_sandbox/journal", show_journal, methods=["GET", "DELETE"]),
        Route("/_sandbox/outbox", show_outbox, methods=["GET"]),
    ]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_encode_hs256(
    claims: Mapping[str, Any], secret: bytes, header: Mapping[str, Any] | None = None
) -> str:
    """A compact HS256 JWT, the shape real vendor tokens have."""
    head = dict(header or {"typ": "JWT", "alg": "HS256"})
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (head, dict(claims))
    )
    signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def jwt_decode_hs256(token: str, secret: bytes) -> dict[str, Any] | None:
    """Claims of a token this emulator signed, or None when it is malformed or forged."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii", "replace")
    expected = hmac.new(secret, signing_input, hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _b64url_decode(parts[2])):
            return None
        claims = json.loads(_b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def emulator_app(
    routes: list[Route], *, journal: Journal, outbox: Outbox, clock: Clock, faults: Any
) -> Starlette:
    """A vendor emulator: its routes plus the inspection ones, behind journal and fault plan.

    The journal sits outside the fault plan, so a faulted request is still recorded.
    """
    from customer_gateway.sandbox.faults import FaultMiddleware, fault_routes  # circular at load

    return Starlette(
        routes=[*routes, *inspection_routes(journal, outbox), *fault_routes(faults)],
        middleware=[
            Middleware(JournalMiddleware, journal=journal, clock=clock),
            Middleware(FaultMiddleware, plan=faults),
        ],
    )
