"""Single flight: one call for concurrent identical keys, and nothing replayed once it finished."""

from __future__ import annotations

import asyncio

import pytest

from customer_gateway.services.singleflight import SingleFlight

pytestmark = pytest.mark.anyio


class Upstream:
    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self) -> str:
        self.calls += 1
        await self.release.wait()
        return f"token-{self.calls}"


async def test_concurrent_calls_share_one_upstream_call() -> None:
    flight: SingleFlight[str] = SingleFlight()
    upstream = Upstream()
    waiting = [asyncio.create_task(flight.run("k", upstream)) for _ in range(10)]
    await asyncio.sleep(0)
    upstream.release.set()
    assert await asyncio.gather(*waiting) == ["token-1"] * 10
    assert upstream.calls == 1


async def test_a_finished_result_is_not_replayed() -> None:
    flight: SingleFlight[str] = SingleFlight()
    upstream = Upstream()
    upstream.release.set()
    assert await flight.run("k", upstream) == "token-1"
    assert await flight.run("k", upstream) == "token-2"


async def test_failures_are_shared_but_never_replayed() -> None:
    flight: SingleFlight[str] = SingleFlight()
    attempts = 0

    async def failing() -> str:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.01)
        raise LookupError("rejected")

    results = await asyncio.gather(
        *(flight.run("k", failing) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, LookupError) for r in results)
    assert attempts == 1
    with pytest.raises(LookupError):
        await flight.run("k", failing)
    assert attempts == 2
