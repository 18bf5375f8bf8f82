"""Liveness, readiness and metrics: none of them calls a backend.

Readiness pings the store, which answers within `[store] timeout_s` whatever the store does.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from customer_gateway.observability.metrics import CONTENT_TYPE_LATEST, METRICS
from customer_gateway.store import Store

__all__ = ["health_routes"]


def health_routes(store: Store, backend_health: Callable[[], dict[str, bool]]) -> list[Route]:
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        try:
            store_ok = await store.ping()
        except Exception:  # any store failure means "not ready", never a 500
            store_ok = False
        # Backends are reported, not required: one backend down must not take the gateway out of
        # the load balancer, since every other backend still works (partial failure).
        body = {
            "status": "ready" if store_ok else "unavailable",
            "store": "ok" if store_ok else "unreachable",
            "backends": {
                name: "ok" if healthy else "circuit open"
                for name, healthy in backend_health().items()
            },
        }
        return JSONResponse(body, status_code=200 if store_ok else 503)

    async def metrics(request: Request) -> Response:
        return Response(METRICS.render(), media_type=CONTENT_TYPE_LATEST)

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]
