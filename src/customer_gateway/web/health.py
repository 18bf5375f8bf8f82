"""Liveness and readiness: neither calls a backend (readiness is about the gateway itself)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from customer_gateway.otp.store import Store

__all__ = ["health_routes"]


def health_routes(store: Store, backend_names: list[str]) -> list[Route]:
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        try:
            store_ok = await store.ping()
        except Exception:  # any store failure means "not ready", never a 500
            store_ok = False
        body = {
            "status": "ready" if store_ok else "unavailable",
            "store": "ok" if store_ok else "unreachable",
            "backends": backend_names,
        }
        return JSONResponse(body, status_code=200 if store_ok else 503)

    return [Route("/healthz", healthz), Route("/readyz", readyz)]
