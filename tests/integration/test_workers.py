"""`serve --workers N`: N processes on one socket sharing one Redis, drained together on SIGTERM.

Which worker served a request is read from the JSON log lines (each carries the process id and
the request id), as an operator would: nothing about the processes is exposed over HTTP.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Sandboxes, kibo_backend
from support.graphql import gql
from support.live import LiveServer, serve_process
from support.redis_server import redis_server
from support.webhook import Receiver

SECRET = "shared-otp-secret-0123456789"
SIGN_IN = 'mutation { signIn(backend: "kibo", username: "ada.lovelace@example.com", password: "kibo-demo-pass") { token { accessToken } customer { id } } }'
REQUEST = 'mutation($id: ID!) { requestEmailChange(id: $id, email: "ada@example.org") { pending userErrors { code } } }'
CONFIRM = "mutation($id: ID!, $c: String!) { confirmEmailChange(id: $id, code: $c) { customer { email } userErrors { code } } }"
ME = '{ me(backend: "kibo") { email pendingEmailChange } }'


def config(sandboxes: Sandboxes, redis_url: str, webhook: str) -> str:
    return f"""[gateway]
log_level = "INFO"
[store]
url = "{redis_url}"
[otp]
secret = "{SECRET}"
notifier = "webhook"
webhook_url = "{webhook}"
{kibo_backend("kibo", sandboxes.url("kibo"))}"""


def served_by(log: Path, request_id: str, within_s: float = 20) -> int:
    """The pid of the worker that logged `request_id` (the line is written when it answers)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            entry = json.loads(line) if line.startswith("{") else {}
            if entry.get("logger") == "customer_gateway.access" and (
                entry.get("request_id") == request_id
            ):
                return int(entry["pid"])
        time.sleep(0.05)
    raise AssertionError(f"no log line for {request_id}")


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


class Pinned:
    """One kept-alive connection, and the worker process that accepted it."""

    def __init__(self, url: str, log: Path, name: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(max_connections=1))
        self.log = log
        self.name = name
        self.sent = 0
        self.pid = self.worker_of(self.post("{ __typename }"))

    def post(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> str:
        self.sent += 1
        request_id = f"{self.name}-{self.sent}"
        body = gql(self.client, query, variables, headers={"X-Request-ID": request_id}, **kw)
        assert "errors" not in body, body
        self.last = body["data"]
        return request_id

    def worker_of(self, request_id: str) -> int:
        return served_by(self.log, request_id)


@pytest.fixture
def workers(
    sandboxes: Sandboxes, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes], Receiver]]:
    hook = Receiver()
    with redis_server() as redis_url, LiveServer(hook.app) as receiver:
        text = config(sandboxes, redis_url, f"{receiver.url}/otp")
        with serve_process(text, tmp_path, ["--workers", "2"]) as (url, process):
            yield url, process, hook


@pytest.fixture
def pin_two_workers(
    workers: tuple[str, subprocess.Popen[bytes], Receiver], tmp_path: Path
) -> Iterator[tuple[Pinned, Pinned]]:
    """Two connections accepted by two different workers (the kernel picks; bounded tries)."""
    url, log = workers[0], tmp_path / "serve.stderr"
    opened = [Pinned(url, log, "a")]
    try:
        for attempt in range(200):
            opened.append(Pinned(url, log, f"b{attempt}"))
            if opened[-1].pid != opened[0].pid:
                break
        else:
            raise AssertionError("200 connections all went to one worker")
        yield opened[0], opened[-1]
    finally:
        for pinned in opened:
            pinned.client.close()


def test_two_workers_share_the_store_and_both_answer(
    workers: tuple[str, subprocess.Popen[bytes], Receiver], pin_two_workers: tuple[Pinned, Pinned]
) -> None:
    _, process, hook = workers
    a, b = pin_two_workers
    assert {parent_of(a.pid), parent_of(b.pid)} == {process.pid}  # workers of this serve
    assert process.pid not in (a.pid, b.pid)

    signed = a.post(SIGN_IN)
    data = a.last["signIn"]
    token, cid = data["token"]["accessToken"], data["customer"]["id"]
    requested = a.post(REQUEST, {"id": cid}, token=token)
    assert a.last["requestEmailChange"] == {"pending": True, "userErrors": []}
    code = json.loads(hook.requests[-1][1])["code"]
    b.post(ME, token=token)
    assert b.last["me"]["pendingEmailChange"] is True  # the other worker sees it pending
    confirmed = b.post(CONFIRM, {"id": cid, "c": code}, token=token)
    assert b.last["confirmEmailChange"] == {
        "customer": {"email": "ada@example.org"},
        "userErrors": [],
    }
    a.post(ME, token=token)
    assert a.last["me"] == {"email": "ada@example.org", "pendingEmailChange": False}
    # Each step was served where it was sent: requested on one worker, confirmed on the other.
    assert a.worker_of(signed) == a.worker_of(requested) == a.pid
    assert b.worker_of(confirmed) == b.pid != a.pid


def test_sigterm_finishes_in_flight_requests_of_both_workers(
    workers: tuple[str, subprocess.Popen[bytes], Receiver],
    pin_two_workers: tuple[Pinned, Pinned],
    sandboxes: Sandboxes,
    tmp_path: Path,
) -> None:
    url, process, _ = workers
    a, b = pin_two_workers
    a.post(SIGN_IN)
    token = a.last["signIn"]["token"]["accessToken"]
    sandboxes.kibo.faults.add("delay", "/accounts/current", delay_s=2.0, times=10)
    sandboxes.kibo.journal.clear()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        calls = [pool.submit(pinned.post, ME, token=token) for pinned in (a, b)]
        deadline = time.monotonic() + 20
        while sandboxes.kibo.journal.count("GET", "/accounts/current") < 2:
            assert time.monotonic() < deadline, "the reads did not reach the backend"
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)  # both workers hold a request waiting upstream
        request_ids = [call.result() for call in calls]
    assert a.last["me"]["email"] == b.last["me"]["email"] == "ada.lovelace@example.com"
    assert {a.worker_of(request_ids[0]), b.worker_of(request_ids[1])} == {a.pid, b.pid}
    assert process.wait(timeout=30) == 0
    # Every line of the parent and both workers is a JSON log line, as configured.
    lines = (tmp_path / "serve.stderr").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert {entry["pid"] for entry in entries} == {process.pid, a.pid, b.pid}
    assert any(entry["message"] == "Received SIGTERM, exiting." for entry in entries)
    for pid in (a.pid, b.pid):
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz", timeout=2)


def test_workers_refuse_the_memory_store_naming_store_url(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text("[gateway]\nport = 0\n")
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "customer_gateway",
            "serve",
            "--config",
            str(path),
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,  # if it did start, its workers go with it below
    )
    try:
        out, err = process.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    assert process.returncode == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and "store.url" in lines[0] and "2 workers" in lines[0], lines
