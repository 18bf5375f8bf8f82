"""gather with a single-item fast path, and gather_bounded's limit, order and errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from customer_gateway.concurrency import gather, gather_bounded

pytestmark = pytest.mark.anyio


async def test_gather_returns_results_in_order_and_errors_in_place_when_asked() -> None:
    async def value(v: int) -> int:
        await asyncio.sleep(0.01 * (3 - v))
        return v

    async def fail() -> int:
        raise ValueError("no")

    assert await gather([value(1), value(2)]) == [1, 2]
    one = await gather([fail()], return_exceptions=True)
    assert isinstance(one[0], ValueError)
    many = await gather([value(1), fail()], return_exceptions=True)
    assert many[0] == 1 and isinstance(many[1], ValueError)
    with pytest.raises(ValueError, match="no"):
        await gather([fail()])
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()
    loop.call_soon(future.set_result, 7)
    assert await gather([future]) == [7]  # futures as well as coroutines


async def test_gather_bounded_never_runs_more_than_the_limit_and_keeps_order() -> None:
    running = peak = 0

    def call(i: int) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.001 * (i % 4))
            running -= 1
            if i == 7:
                raise LookupError(i)
            return i * 10

        return run

    results = await gather_bounded([call(i) for i in range(30)], limit=4, return_exceptions=True)
    assert peak == 4
    assert [r for i, r in enumerate(results) if i != 7] == [i * 10 for i in range(30) if i != 7]
    assert isinstance(results[7], LookupError)
    assert await gather_bounded([], limit=4) == []


async def test_gather_bounded_raises_the_first_error_and_starts_nothing_after_it() -> None:
    started: list[int] = []

    def call(i: int) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            started.append(i)
            await asyncio.sleep(0.001)
            if i == 2:
                raise LookupError(i)
            return i

        return run

    with pytest.raises(LookupError):
        await gather_bounded([call(i) for i in range(20)], limit=3)
    assert started[:3] == [0, 1, 2] and len(started) <= 5  # the calls already running end
