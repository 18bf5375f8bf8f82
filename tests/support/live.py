"""Servers for tests: the contract kit's live server, free ports, and `serve` in its own process."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from customer_gateway.testing.live import LiveServer, Swappable, bind_free

__all__ = ["LiveServer", "Swappable", "bind_free", "free_port", "serve_process"]


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
