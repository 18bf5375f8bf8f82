"""Slow clients are cut off by the server `serve` runs, and cannot starve other clients.

The attacks of issue 11 (item 3), bounded for a test: hundreds of sockets that send a request
line and then one header line at intervals, slow bodies a byte at a time, and idle connections
up to the cap. Each one is closed by the server within its timeout, while `{__typename}` on a
fresh connection keeps answering quickly.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.live import serve_process

TIMEOUT_S = 3.0  # header and body timeouts of the gateway under attack
GIVE_UP_S = 15.0  # a socket still open by then was never cut off
TYPENAME = {"query": "{ __typename }"}


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[str]:
    config = f"""[gateway]
log_level = "WARNING"
header_timeout_s = {TIMEOUT_S}
body_timeout_s = {TIMEOUT_S}
write_timeout_s = {TIMEOUT_S}
max_connections = 1000
max_connections_per_address = 0
"""
    with serve_process(config, tmp_path) as (url, _):
        yield url


async def held_for(port: int, opening: bytes, drip: bytes, every_s: float) -> float:
    """Sends `opening`, then `drip` every `every_s`; how long the server kept the connection
    open (infinite if it was still open after GIVE_UP_S)."""
    loop = asyncio.get_running_loop()
    # From before connecting: the server's clock starts once it accepts, and on a busy machine
    # this coroutine may resume well after that, which would make the hold look shorter.
    started = loop.time()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(opening)
        while loop.time() - started < GIVE_UP_S:
            try:
                if not await asyncio.wait_for(reader.read(1024), every_s):
                    return loop.time() - started  # the server closed it
            except TimeoutError:
                writer.write(drip)
                await writer.drain()
        return math.inf
    except ConnectionError:
        return loop.time() - started  # closed with our unread bytes: a reset
    finally:
        writer.close()


def typename_latencies(url: str, seconds: float) -> list[float]:
    """`{__typename}` over a fresh connection each time, for `seconds`."""
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        with httpx.Client(timeout=GIVE_UP_S) as client:
            response = client.post(f"{url}/graphql", json=TYPENAME)
        latencies.append(time.monotonic() - started)
        assert response.json() == {"data": {"__typename": "Query"}}
        time.sleep(0.05)
    return latencies


async def attack(
    url: str, sockets: int, opening: bytes, drip: bytes
) -> tuple[list[float], list[float]]:
    port = int(url.rsplit(":", 1)[1])
    held = [held_for(port, opening, drip, every_s=0.5) for _ in range(sockets)]
    probe = asyncio.to_thread(typename_latencies, url, TIMEOUT_S)
    *durations, latencies = await asyncio.gather(*held, probe)
    return list(durations), latencies


def assert_cut_off_in_time(durations: list[float], latencies: list[float]) -> None:
    assert max(durations) < TIMEOUT_S + 3, sorted(durations)[-5:]  # cut off, not held
    assert min(durations) >= TIMEOUT_S * 0.95  # by the timeout, not by anything sooner
    # Meanwhile the gateway stayed quick for others: a bound far under the timeout.
    assert latencies and statistics.median(latencies) < 0.5 and max(latencies) < TIMEOUT_S / 2


def test_trickled_headers_are_cut_off_and_others_stay_fast(gateway: str) -> None:
    durations, latencies = asyncio.run(
        attack(gateway, 300, b"POST /graphql HTTP/1.1\r\nHost: gateway\r\n", b"X-Slow: 1\r\n")
    )
    assert_cut_off_in_time(durations, latencies)


def test_a_slow_body_is_cut_off_and_others_stay_fast(gateway: str, tmp_path: Path) -> None:
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000\r\n\r\n{"
    )
    durations, latencies = asyncio.run(attack(gateway, 100, head, b" "))
    assert_cut_off_in_time(durations, latencies)
    log = (tmp_path / "serve.stderr").read_text()
    assert '"level": "ERROR"' not in log, log[:500]  # a cut-off client is no error of the app


def test_connections_over_the_cap_are_closed_at_once(tmp_path: Path) -> None:
    header_timeout_s = 6.0  # long enough that the twenty are surely accepted before the 21st
    config = (
        f'[gateway]\nlog_level = "WARNING"\nheader_timeout_s = {header_timeout_s}\n'
        "max_connections = 20\n"
    )

    async def run(port: int) -> tuple[list[float], float]:
        idle = [held_for(port, b"", b"", every_s=GIVE_UP_S) for _ in range(20)]
        tasks = [asyncio.ensure_future(coroutine) for coroutine in idle]
        await asyncio.sleep(2)  # the twenty are connected and say nothing
        over = await held_for(port, b"", b"", every_s=GIVE_UP_S)
        return list(await asyncio.gather(*tasks)), over

    with serve_process(config, tmp_path) as (url, _):
        idle, over = asyncio.run(run(int(url.rsplit(":", 1)[1])))
        assert over < header_timeout_s / 2  # the 21st: closed without waiting for anything
        # Connections that never send a byte are cut off by the header timeout too.
        assert all(header_timeout_s * 0.95 <= held < header_timeout_s + 3 for held in idle), idle
        assert httpx.post(f"{url}/graphql", json=TYPENAME, timeout=5).status_code == 200


def test_a_blank_line_after_an_answer_holds_nothing(gateway: str) -> None:
    """One CRLF after a kept-alive answer cancelled the idle timeout, and no request had begun
    to start the head's: a thousand such sockets held every connection of two workers."""
    request = (
        b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"Content-Length: 26\r\n\r\n" + b'{"query":"{ __typename }"}'
    )

    async def run(port: int) -> float:
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(request)
            answer = await reader.readuntil(b"__typename")
            assert b"200 OK" in answer
            await reader.readuntil(b"}}")
            started = loop.time()
            writer.write(b"\r\n")  # then nothing, ever
            while loop.time() - started < GIVE_UP_S:
                try:
                    if not await asyncio.wait_for(reader.read(1024), 1.0):
                        return loop.time() - started
                except TimeoutError:
                    continue
                except ConnectionError:
                    return loop.time() - started
            return math.inf
        finally:
            writer.close()

    held = asyncio.run(run(int(gateway.rsplit(":", 1)[1])))
    assert held < TIMEOUT_S + 3


def test_an_answer_nobody_reads_is_dropped(gateway: str, tmp_path: Path) -> None:
    """Pipelined requests for large answers, and a client that never reads them: the server's
    send buffer stays full, and the connection is cut after the write timeout."""
    document = "{ " + " ".join(f"a{i}: _service {{ sdl }}" for i in range(10)) + " }"
    body = json.dumps({"query": document}).encode()
    request = (
        b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    ) + body

    def unread_then_received(port: int) -> int:
        """Bytes the server still delivers once the client, having read nothing for longer
        than the write timeout, starts reading: only what sat in buffers when it was cut."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            sock.connect(("127.0.0.1", port))
            sock.sendall(request * 200)  # some 12 MB of answers: more than socket buffers hold
            time.sleep(TIMEOUT_S + 2)
            sock.settimeout(GIVE_UP_S)
            received = 0
            try:
                while received < 10_000_000 and (chunk := sock.recv(65536)):
                    received += len(chunk)
            except (ConnectionError, TimeoutError):
                pass
            return received

    received = unread_then_received(int(gateway.rsplit(":", 1)[1]))
    assert received < 6_000_000  # cut off: not the 12 MB a patient server would send
    log = (tmp_path / "serve.stderr").read_text()
    assert '"level": "ERROR"' not in log, log[:500]  # a client that stopped reading: no error


def test_one_address_holds_at_most_its_share_of_connections(tmp_path: Path) -> None:
    config = '[gateway]\nlog_level = "WARNING"\nmax_connections_per_address = 5\n'

    async def run(port: int) -> tuple[list[float], float]:
        idle = [held_for(port, b"", b"", every_s=GIVE_UP_S) for _ in range(5)]
        tasks = [asyncio.ensure_future(coroutine) for coroutine in idle]
        await asyncio.sleep(2)  # the five are connected and say nothing
        over = await held_for(port, b"", b"", every_s=GIVE_UP_S)
        for task in tasks:
            task.cancel()
        return [], over

    with serve_process(config, tmp_path) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        _, over = asyncio.run(run(port))
        assert over < 2.0  # the sixth from the same address: closed at once
        # Another address is not affected.
        with socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0)):
            pass
        other = httpx.post(f"{url}/graphql", json=TYPENAME, timeout=5)
        assert other.status_code == 200


def test_oversized_and_unreadable_requests_get_a_graphql_error_body(gateway: str) -> None:
    port = int(gateway.rsplit(":", 1)[1])

    def exchange(raw: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(raw)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    # Just over the limit: a client that keeps sending after the refusal gets a reset instead.
    huge = b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nX-Big: " + b"x" * 70_000
    for raw, status in (
        (huge, b"431"),
        (b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Length: x\r\n\r\n", b"400"),
        (b"NOT HTTP AT ALL\r\n\r\n", b"400"),
    ):
        answer = exchange(raw)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 " + status), head
        assert b"x-request-id: " in head.lower()
        assert json.loads(body)["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
