"""The store's atomic operations, the same on memory and on a real Redis server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from customer_gateway.otp.redis_store import RedisStore
from customer_gateway.otp.store import (
    ChangeState,
    ClaimOutcome,
    MemoryStore,
    PendingChange,
    Store,
)
from support.clock import ManualClock

pytestmark = pytest.mark.anyio


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, clock: ManualClock) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore(clock)
        return
    url = request.getfixturevalue("redis_url")
    store = RedisStore(url, clock=clock)
    yield store
    await store.aclose()


def change(clock: ManualClock, **kw: object) -> PendingChange:
    defaults: dict[str, object] = {
        "backend": "kibo",
        "customer_id": str(uuid.uuid4()),
        "kind": "email",
        "value": "ada@example.org",
        "expires_at": clock.now + 600,
        "code_digest": "d" * 64,
    }
    defaults.update(kw)
    return PendingChange(**defaults)  # type: ignore[arg-type]


async def test_put_get_and_replace(store: Store, clock: ManualClock) -> None:
    first = change(clock)
    await store.put_pending(first)
    assert await store.get_pending(first.key) == first
    replaced = (
        PendingChange(**{**first.__dict__, "code_digest": "e" * 64})
        if hasattr(first, "__dict__")
        else None
    )
    del replaced
    second = change(clock, customer_id=first.customer_id, code_digest="e" * 64, attempts=0)
    await store.put_pending(second)
    assert (await store.get_pending(first.key)) == second
    await store.delete_pending(first.key)
    assert await store.get_pending(first.key) is None


async def test_claim_outcomes(store: Store, clock: ManualClock) -> None:
    pending = change(clock)
    await store.put_pending(pending)
    for attempt in range(1, 5):
        result = await store.claim(pending.key, "x" * 64, 5, clock.now, 60)
        assert result.outcome is ClaimOutcome.WRONG_CODE
        assert (await store.get_pending(pending.key)).attempts == attempt  # type: ignore[union-attr]
    assert (
        await store.claim(pending.key, "x" * 64, 5, clock.now, 60)
    ).outcome is ClaimOutcome.EXCEEDED
    cancelled = await store.get_pending(pending.key)
    assert cancelled is not None and cancelled.state is ChangeState.CANCELLED
    assert (
        await store.claim(pending.key, "d" * 64, 5, clock.now, 60)
    ).outcome is ClaimOutcome.NOTHING


async def test_claim_is_exclusive_until_released(store: Store, clock: ManualClock) -> None:
    pending = change(clock)
    await store.put_pending(pending)
    claimed = await store.claim(pending.key, "d" * 64, 5, clock.now, 60)
    assert claimed.outcome is ClaimOutcome.CLAIMED and claimed.change is not None
    assert claimed.change.state is ChangeState.PENDING
    busy = await store.claim(pending.key, "d" * 64, 5, clock.now, 60)
    assert busy.outcome is ClaimOutcome.NOTHING
    await store.release(pending.key, ChangeState.UNCERTAIN)
    again = await store.claim(pending.key, "d" * 64, 5, clock.now, 60)
    assert again.outcome is ClaimOutcome.CLAIMED and again.change is not None
    assert again.change.state is ChangeState.UNCERTAIN  # the next confirm reconciles
    # A claimer that died: its lease runs out and the change can be claimed again.
    assert (
        await store.claim(pending.key, "d" * 64, 5, clock.now + 61, 60)
    ).outcome is ClaimOutcome.CLAIMED


async def test_expired_changes_answer_expired_once(store: Store, clock: ManualClock) -> None:
    pending = change(clock)
    await store.put_pending(pending)
    result = await store.claim(pending.key, "d" * 64, 5, clock.now + 601, 60)
    assert result.outcome is ClaimOutcome.EXPIRED
    assert (
        await store.claim(pending.key, "d" * 64, 5, clock.now + 602, 60)
    ).outcome is ClaimOutcome.NOTHING


async def test_twenty_concurrent_claims_yield_one_winner(store: Store, clock: ManualClock) -> None:
    pending = change(clock)
    await store.put_pending(pending)
    results = await asyncio.gather(
        *(store.claim(pending.key, "d" * 64, 5, clock.now, 60) for _ in range(20))
    )
    assert [r.outcome for r in results].count(ClaimOutcome.CLAIMED) == 1


async def test_record_failure_cancels_at_the_limit(store: Store, clock: ManualClock) -> None:
    pending = change(clock, code_digest=None)
    await store.put_pending(pending)
    counts = [await store.record_failure(pending.key, 3) for _ in range(4)]
    assert counts == [1, 2, 3, 0]
    cancelled = await store.get_pending(pending.key)
    assert cancelled is not None and not cancelled.live


async def test_windows_count_and_reset(store: Store, clock: ManualClock) -> None:
    key = f"window-{uuid.uuid4()}"
    assert await store.window_count(key, clock.now) == (0, 0.0)
    counts = [(await store.hit(key, 2.0, clock.now))[0] for _ in range(3)]
    assert counts == [1, 2, 3]
    count, left = await store.window_count(key, clock.now)
    assert count == 3 and 0 < left <= 2.0
    if isinstance(store, MemoryStore):
        clock.advance(2.1)
    else:
        await asyncio.sleep(2.1)  # Redis expires the window by its own clock
    assert (await store.hit(key, 2.0, clock.now))[0] == 1


async def test_memory_forgets_windows_and_changes_nobody_asks_for_again(
    monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> None:
    """A client that goes away must not leave its rate window behind forever (Redis expires
    keys itself): a table that doubled drops what has expired, and keeps what has not."""
    monkeypatch.setattr("customer_gateway.otp.store.SWEEP_MIN_ENTRIES", 8)
    memory = MemoryStore(clock)
    for i in range(8):
        await memory.hit(f"rate:address:10.0.0.{i}", 1.0, clock.now)
        await memory.put_pending(change(clock, expires_at=clock.now + 1))
    kept = change(clock, expires_at=clock.now + 7200)
    await memory.put_pending(kept)
    clock.advance(3602)
    assert (await memory.hit("rate:address:10.0.0.0", 1.0, clock.now))[0] == 1  # reset, not new
    for i in range(8, 16):
        await memory.hit(f"rate:address:10.0.0.{i}", 60.0, clock.now)
        await memory.put_pending(change(clock, expires_at=clock.now + 600))
    assert len(memory._windows) == 9  # the 8 live ones and the one reset: 8 expired are gone
    assert len(memory._pending) == 9  # the 8 new ones and `kept`
    assert await memory.get_pending(kept.key) == kept
    assert (await memory.window_count("rate:address:10.0.0.15", clock.now))[0] == 1


async def test_redis_holds_no_code_and_expires_records(redis_url: str, clock: ManualClock) -> None:
    store = RedisStore(redis_url, clock=clock)
    pending = change(clock, expires_at=clock.now + 1)
    await store.put_pending(pending)
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        keys = await client.keys("customer-gateway:pending:*")
        assert keys
        ttl = await client.pttl(f"customer-gateway:{pending.key}")
        assert 0 < ttl <= (1 + 3600) * 1000  # gone an hour after it expires, whatever happens
    finally:
        await client.aclose()
        await store.aclose()


async def test_documents_are_kept_by_digest(store: Store) -> None:
    digest = "a" * 64
    assert await store.get_document(digest) is None
    await store.put_document(digest, "{ backends { name } }")
    assert await store.get_document(digest) == "{ backends { name } }"


async def test_memory_documents_stay_within_their_budget_least_recently_used_first(
    monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> None:
    monkeypatch.setattr("customer_gateway.otp.store.DOCUMENTS_MAX_CHARS", 30)
    memory = MemoryStore(clock)
    for name in ("a", "b", "c"):
        await memory.put_document(name * 64, name * 10)
    assert await memory.get_document("a" * 64) == "a" * 10  # now the most recently used
    await memory.put_document("d" * 64, "d" * 10)
    assert await memory.get_document("b" * 64) is None
    assert [await memory.get_document(n * 64) for n in "acd"] == ["a" * 10, "c" * 10, "d" * 10]
