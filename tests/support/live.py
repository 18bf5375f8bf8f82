"""Run any ASGI app under a real uvicorn server on a free 127.0.0.1 port, in a thread."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send


class Swappable:
    """An ASGI app whose target can be replaced between tests, so one server serves them all."""

    def __init__(self, app: ASGIApp | None = None) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if self.app is None:
            raise RuntimeError("no app mounted")
        await self.app(scope, receive, send)


def bind_free() -> socket.socket:
    """A socket bound to a free 127.0.0.1 port, for apps that must know their URL up front."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class LiveServer:
    def __init__(self, app: ASGIApp, sock: socket.socket | None = None, **config: Any) -> None:
        self.sock = sock or bind_free()
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # A handler a test left hanging (a `hang` fault) is cancelled a second into shutdown,
        # rather than holding the server, and the run's teardown, for the join's 10 s.
        options: dict[str, Any] = {
            "log_level": "warning",
            "lifespan": "on",
            "timeout_graceful_shutdown": 1,
            **config,
        }
        self.server = uvicorn.Server(uvicorn.Config(app, **options))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def free_port() -> int:
    """A port nobody listens on (for 'backend down' tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_process(
    config: str, tmp_path: Path, args: Sequence[str] = ()
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`customer-gateway serve` as users run it, in its own process, on a free port; killed on
    exit if it is still running. `config` is the TOML without a `[gateway]` port line; `args`
    are more flags. What it prints lands in `tmp_path / "serve.stdout"` and `"serve.stderr"`."""
    port = free_port()
    path = tmp_path / "gateway.toml"
    path.write_text(config.replace("[gateway]\n", f"[gateway]\nport = {port}\n", 1))
    with (
        (tmp_path / "serve.stdout").open("wb") as out,
        (tmp_path / "serve.stderr").open("wb") as err,
    ):
        process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "customer_gateway", "serve", "--config", str(path), *args],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: workers included in the clean-up
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("serve did not start")
            time.sleep(0.1)
        yield url, process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # no-op when everything exited already
        process.wait()
