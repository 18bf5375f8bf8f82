"""A stand-in upstream that misbehaves on purpose: HTML answers, slowness, redirects."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route


def faulty_app(
    mode: str, *, delay_s: float = 5.0, redirect_to: str = "http://127.0.0.1:9/"
) -> Starlette:
    async def answer(request: Request) -> Response:
        if mode == "html":
            return HTMLResponse("<html><body>Bad gateway, token=eyJhbGciOi.e30.sig</body></html>")
        if mode == "slow":
            await asyncio.sleep(delay_s)
            return Response("{}", media_type="application/json")
        if mode == "redirect":
            return RedirectResponse(redirect_to, status_code=302)
        if mode == "500":
            return Response(
                '{"trace": "File /srv/app.py, line 1"}',
                status_code=500,
                media_type="application/json",
            )
        return Response(
            '{"status": "OK", "code": 200, "data": [1, 2]}', media_type="application/json"
        )

    return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST", "PUT"])])
