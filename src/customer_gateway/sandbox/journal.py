"""The request journal: every request an emulator received, recorded by a middleware.

Tests count upstream calls and read what the gateway sent with it; `/_sandbox/journal` shows it
(and DELETE clears it) for the demo and the benchmark.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from customer_gateway.sandbox.clock import Clock
from customer_gateway.sandbox.inspection import INSPECTION_PREFIX, is_inspection

__all__ = ["Journal", "JournalEntry", "JournalMiddleware", "journal_routes"]


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


def journal_routes(journal: Journal) -> list[Route]:
    """`/_sandbox/journal`: GET lists the requests (or `?count=1` their number), DELETE clears."""

    async def show_journal(request: Request) -> Response:
        if request.method == "DELETE":
            journal.clear()
            return Response(status_code=204)
        if request.query_params.get("count"):  # cheap, for benchmarks counting upstream calls
            return JSONResponse({"count": len(journal.entries)})
        return JSONResponse([e.to_dict() for e in journal.entries])

    return [Route(f"{INSPECTION_PREFIX}/journal", show_journal, methods=["GET", "DELETE"])]
