"""An operator's notification service for tests: records what the gateway's webhook POSTs."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class Receiver:
    """Answers every POST to /otp with `status` (after `delay_s`, as a real delivery service
    takes its time) and keeps (headers, body) of each."""

    def __init__(self, status: int = 204, delay_s: float = 0.0) -> None:
        self.status = status
        self.delay_s = delay_s
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.app = Starlette(routes=[Route("/otp", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.body()))
        await asyncio.sleep(self.delay_s)
        return Response(status_code=self.status)
