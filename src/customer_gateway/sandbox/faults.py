"""Fault plans for the emulators: tests (and frontend developers) rehearse upstream failures.

A plan is a list of rules; each matches a method and a path fragment and fires for its next
`times` matching requests (or, with `probability`, for that share of them). Kinds:
- `status`: answer `status` with a JSON error body, without reaching the emulator;
- `delay`: wait `delay_s`, then proceed normally; `hang`: never answer;
- `malformed`: 200 with a truncated JSON body; `html`: 200 with an HTML page;
- `huge`: 200 streaming a 50 MiB body;
- `drop`: close the connection before any response;
- `apply_then_drop`: let the emulator apply the request, then break the connection before the
  response is complete, so the client cannot know the outcome;
- `apply_then_malformed`: let the emulator apply the request, then answer 200 with a truncated
  JSON body (an answer that cannot tell the client what happened).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import asdict, dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from customer_gateway.sandbox.inspection import INSPECTION_PREFIX, is_inspection

__all__ = ["FAULT_KINDS", "Fault", "FaultMiddleware", "FaultPlan", "fault_routes"]

FAULT_KINDS = frozenset(
    {
        "status",
        "delay",
        "hang",
        "malformed",
        "html",
        "huge",
        "drop",
        "apply_then_drop",
        "apply_then_malformed",
    }
)
_HUGE_CHUNK = b" " * (1024 * 1024)
_MALFORMED = Response('{"status": "OK", "da', media_type="application/json")


@dataclass
class Fault:
    kind: str
    path_contains: str = ""
    method: str | None = None
    times: int = 1
    status: int = 503
    delay_s: float = 0.0
    probability: float = 1.0  # fire on this share of matching requests (random)

    def matches(self, method: str, path: str) -> bool:
        wanted = self.method is None or self.method.upper() == method
        if not (self.times > 0 and wanted and self.path_contains in path):
            return False
        return self.probability >= 1.0 or random.random() < self.probability  # noqa: S311


class FaultPlan:
    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, kind: str, path_contains: str = "", **options: Any) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        fault = Fault(kind, path_contains, **options)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.times -= 1
                return fault
        return None


class _Dropped(Exception):
    """Raised inside the server to break the connection (uvicorn closes it)."""


class FaultMiddleware:
    def __init__(self, app: ASGIApp, plan: FaultPlan) -> None:
        self.app = app
        self.plan = plan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fault = None
        if scope["type"] == "http" and not is_inspection(scope):
            fault = self.plan.take(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        kind = fault.kind
        if kind == "delay":
            await asyncio.sleep(fault.delay_s)
            await self.app(scope, receive, send)
        elif kind == "hang":
            await asyncio.Event().wait()
        elif kind == "status":
            body = {"message": "Injected failure", "code": fault.status}
            await JSONResponse(body, status_code=fault.status)(scope, receive, send)
        elif kind == "malformed":
            await _MALFORMED(scope, receive, send)
        elif kind == "html":
            page = Response("<html><body>Service Unavailable</body></html>", media_type="text/html")
            await page(scope, receive, send)
        elif kind == "huge":
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            for _ in range(50):
                await send({"type": "http.response.body", "body": _HUGE_CHUNK, "more_body": True})
            await send({"type": "http.response.body", "body": b"{}"})
        elif kind == "drop":
            await self._break(send)
        else:  # apply_then_drop, apply_then_malformed

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
            if kind == "apply_then_malformed":
                await _MALFORMED(scope, receive, send)
            else:
                await self._break(send)

    @staticmethod
    async def _break(send: Send) -> None:
        # Promise a body, then fail: the server closes the connection mid-response.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
            }
        )
        raise _Dropped


def fault_routes(plan: FaultPlan) -> list[Route]:
    """`/_sandbox/faults`: GET lists the plan, POST adds a fault (JSON), DELETE clears it."""

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            plan.clear()
            return Response(status_code=204)
        if request.method == "POST":
            try:
                body = await request.json()
                fault = plan.add(**body)
            except (ValueError, TypeError) as error:
                return JSONResponse({"error": str(error)}, status_code=400)
            return JSONResponse(asdict(fault), status_code=201)
        return JSONResponse([asdict(f) for f in plan.faults])

    return [Route(f"{INSPECTION_PREFIX}/faults", faults, methods=["GET", "POST", "DELETE"])]
