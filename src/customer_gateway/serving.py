"""Runs the gateway under uvicorn: in this process, or as N worker processes on one socket.

Both ways build the app through `worker_app` inside the process that serves it, so every worker
is set up exactly like a single-process `serve`: logging, the app with its own connectors and
store connections, the collector settings, the slow-client limits and the graceful shutdown.
uvicorn's supervisor starts the workers (spawned, not forked), restarts one that dies, and on
SIGTERM passes the signal to each worker, which finishes its in-flight requests.
"""

from __future__ import annotations

import functools
import gc
import socket
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.supervisors import Multiprocess

from customer_gateway.records import converted
from customer_gateway.settings import LoadedSettings
from customer_gateway.web.connection_limits import (
    ConnectionCounts,
    ConnectionLimits,
    LimitedHttpProtocol,
)

__all__ = ["GRACEFUL_SHUTDOWN_S", "bind", "run_app", "run_gateway", "tune_collector", "worker_app"]

GRACEFUL_SHUTDOWN_S = 20


def bind(host: str, port: int) -> socket.socket:
    """Bind first, so that port 0 (any free port) is known before the app is built, and so that
    every worker accepts on the same socket."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def run_gateway(loaded: LoadedSettings, sock: socket.socket) -> None:
    """`serve`: one process, or `[gateway] workers` processes sharing `sock`."""
    from customer_gateway.observability.logging import configure_logging

    gateway = loaded.settings.gateway
    configure_logging(gateway.log_level, json_format=gateway.log_json)  # the supervisor's too
    app = functools.partial(worker_app, loaded)
    config = _config(app, gateway.log_level, limits_of(loaded), factory=True)
    if gateway.workers > 1:
        config.workers = gateway.workers
        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])


def run_app(app: ASGIApp, sock: socket.socket, log_level: str) -> None:
    """An app built by the caller (`demo`, `sandbox`), served in this process."""
    tune_collector()
    uvicorn.Server(_config(app, log_level, ConnectionLimits.local_tool())).run(sockets=[sock])


def worker_app(loaded: LoadedSettings) -> ASGIApp:
    """The gateway app, built in the process that serves it (uvicorn calls this factory)."""
    from customer_gateway.app import build_app
    from customer_gateway.observability.logging import configure_logging

    gateway = loaded.settings.gateway
    configure_logging(gateway.log_level, json_format=gateway.log_json)
    app = build_app(loaded)
    tune_collector()
    return app


def limits_of(loaded: LoadedSettings) -> ConnectionLimits:
    gateway = loaded.settings.gateway
    trusted_proxies = tuple(loaded.settings.limits.trusted_proxies)
    return converted(ConnectionLimits, gateway, trusted_proxies=trusted_proxies)


def _config(
    app: Any, log_level: str, limits: ConnectionLimits, *, factory: bool = False
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        factory=factory,
        http=functools.partial(  # type: ignore[arg-type]
            LimitedHttpProtocol, limits=limits, counts=ConnectionCounts()
        ),
        ws="none",  # no WebSocket routes; an upgrade request is answered as plain HTTP
        log_level=log_level.lower(),
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        server_header=False,
        access_log=False,  # the gateway logs each request itself, with its request id
        proxy_headers=False,  # forwarded headers count only from `trusted_proxies` (rate_limit)
    )


def tune_collector() -> None:
    """The cyclic collector has nothing to find in a request (a test pins that requests leave
    no cycles), yet its passes walk every live object: under load, with many requests in
    flight, full passes cost a third of the CPU. So the start-up heap (schema, types, modules)
    is moved out of its reach, and passes are rarer, the full ones much rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 100)
