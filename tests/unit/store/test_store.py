"""The store's atomic operations, the same on memory and on a real Redis server."""

from __future__ import annotations

import asyncio
import tracemalloc
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from customer_gateway.otp.pending import ChangeState, ClaimOutcome, PendingChange
from customer_gateway.store import MemoryStore, Store, keys
from customer_gateway.store.redis_store import RedisStore
from support.clock import ManualClock

pytestmark = pytest.mark.anyio

DAY = 86400.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


def memory_store(clock: ManualClock, documents_max_bytes: int = 1 << 20) -> MemoryStore:
    return MemoryStore(clock, documents_max_bytes=documents_max_bytes)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, clock: ManualClock) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield memory_store(clock)
        return
    url = request.getfixturevalue("redis_url")
    store = RedisStore(url, timeout_s=1.0, documents_max_bytes=1 << 20, clock=clock)
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


def key_of(pending: PendingChange) -> str:
    return keys.pending_change(pending.backend, pending.customer_id, pending.kind)


async def test_put_get_and_replace(store: Store, clock: ManualClock) -> None:
    first = change(clock)
    key = key_of(first)
    await store.put_pending(key, first)
    assert await store.get_pending(key) == first
    second = change(clock, customer_id=first.customer_id, code_digest="e" * 64)
    assert second.id != first.id  # a resend is a new change
    await store.put_pending(key, second)
    assert await store.get_pending(key) == second
    await store.delete_pending(key)
    assert await store.get_pending(key) is None


async def test_claim_outcomes(store: Store, clock: ManualClock) -> None:
    pending = change(clock)
    key = key_of(pending)
    await store.put_pending(key, pending)
    wrong = await store.claim(key, pending.id, "x" * 64, clock.now, 60)
    assert wrong.outcome is ClaimOutcome.WRONG_CODE and wrong.change == pending
    assert await store.get_pending(key) == pending  # a wrong code changes nothing here
    other = await store.claim(key, "another-change", "d" * 64, clock.now, 60)
    assert other.outcome is ClaimOutcome.NOTHING  # a code checked against a replaced change
    assert await store.settle(key, pending.id, ChangeState.CANCELLED)
    cancelled = await store.claim(key, pending.id, "d" * 64, clock.now, 60)
    assert cancelled.outcome is ClaimOutcome.NOTHING


async def test_a_claim_holds_the_change_until_its_deadline(
    store: Store, clock: ManualClock
) -> None:
    pending = change(clock)
    key = key_of(pending)
    await store.put_pending(key, pending)
    claimed = await store.claim(key, pending.id, "d" * 64, clock.now, 60)
    assert claimed.outcome is ClaimOutcome.CLAIMED and claimed.change is not None
    assert claimed.change.state is ChangeState.PENDING
    busy = await store.claim(key, pending.id, "d" * 64, clock.now + 1, 60)
    assert busy.outcome is ClaimOutcome.BUSY and busy.change is not None
    assert busy.change.lease_until == clock.now + 60  # the write's deadline, for retryAfter
    wrong = await store.claim(key, pending.id, "x" * 64, clock.now + 1, 60)
    assert wrong.outcome is ClaimOutcome.WRONG_CODE  # a code is still checked meanwhile
    # The outcome is unknown: the deadline stays, and nobody takes the change over before it.
    assert await store.settle(key, pending.id, ChangeState.UNCERTAIN)
    uncertain = await store.claim(key, pending.id, "d" * 64, clock.now + 59, 60)
    assert uncertain.outcome is ClaimOutcome.BUSY
    again = await store.claim(key, pending.id, "d" * 64, clock.now + 61, 60)
    assert again.outcome is ClaimOutcome.CLAIMED and again.change is not None
    assert again.change.state is ChangeState.UNCERTAIN  # the next confirm reconciles
    # A claimer that died: its lease runs out and the change can be claimed again.
    assert (
        await store.claim(key, pending.id, "d" * 64, clock.now + 122, 60)
    ).outcome is ClaimOutcome.CLAIMED


async def test_settle_moves_only_the_change_it_names(store: Store, clock: ManualClock) -> None:
    pending = change(clock)
    key = key_of(pending)
    await store.put_pending(key, pending)
    assert not await store.settle(key, pending.id, ChangeState.UNCERTAIN)  # not applying
    assert not await store.settle(key, pending.id, ChangeState.DONE)
    await store.claim(key, pending.id, "d" * 64, clock.now, 60)
    assert not await store.settle(key, "a-later-change", ChangeState.DONE)
    assert await store.settle(key, pending.id, ChangeState.PENDING)  # nothing applied
    back = await store.get_pending(key)
    assert back is not None and back.state is ChangeState.PENDING and back.lease_until == 0
    await store.claim(key, pending.id, "d" * 64, clock.now, 60)
    assert await store.settle(key, pending.id, ChangeState.DONE)
    done = await store.claim(key, pending.id, "d" * 64, clock.now, 60)
    assert done.outcome is ClaimOutcome.DONE  # the same code again: it was applied
    assert (await store.claim(key, pending.id, "x" * 64, clock.now, 60)).outcome is (
        ClaimOutcome.NOTHING
    )
    assert not await store.settle(key, pending.id, ChangeState.CANCELLED)  # done is final


async def test_expired_changes_answer_expired_once(store: Store, clock: ManualClock) -> None:
    pending = change(clock)
    key = key_of(pending)
    await store.put_pending(key, pending)
    result = await store.claim(key, pending.id, "d" * 64, clock.now + 601, 60)
    assert result.outcome is ClaimOutcome.EXPIRED
    assert (
        await store.claim(key, pending.id, "d" * 64, clock.now + 602, 60)
    ).outcome is ClaimOutcome.NOTHING


async def test_twenty_concurrent_claims_yield_one_winner(store: Store, clock: ManualClock) -> None:
    pending = change(clock)
    key = key_of(pending)
    await store.put_pending(key, pending)
    results = await asyncio.gather(
        *(store.claim(key, pending.id, "d" * 64, clock.now, 60) for _ in range(20))
    )
    outcomes = [r.outcome for r in results]
    assert outcomes.count(ClaimOutcome.CLAIMED) == 1
    assert outcomes.count(ClaimOutcome.BUSY) == 19


async def test_reservations_never_exceed_the_limit(store: Store, clock: ManualClock) -> None:
    key = f"attempts-{uuid.uuid4()}"
    results = await asyncio.gather(*(store.reserve(key, 5, 60.0, clock.now) for _ in range(100)))
    taken = sorted(count for ok, count, _ in results if ok)
    assert taken == [1, 2, 3, 4, 5]
    assert all(count == 5 and 0 < left <= 60 for ok, count, left in results if not ok)
    await store.refund(key)  # one attempt turned out not to count
    assert (await store.reserve(key, 5, 60.0, clock.now))[:2] == (True, 5)
    assert (await store.reserve(key, 5, 60.0, clock.now))[0] is False
    assert (await store.count(key, clock.now))[0] == 5


async def test_a_refund_never_goes_below_zero(store: Store, clock: ManualClock) -> None:
    key = f"attempts-{uuid.uuid4()}"
    await store.refund(key)
    assert (await store.count(key, clock.now))[0] == 0
    assert (await store.reserve(key, 1, 60.0, clock.now))[:2] == (True, 1)


async def test_windows_count_and_reset(store: Store, clock: ManualClock) -> None:
    key = f"window-{uuid.uuid4()}"
    assert await store.count(key, clock.now) == (0, 0.0)
    counts = [(await store.hit(key, 2.0, clock.now))[0] for _ in range(3)]
    assert counts == [1, 2, 3]
    count, left = await store.count(key, clock.now)
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
    monkeypatch.setattr("customer_gateway.store.memory.SWEEP_MIN_ENTRIES", 8)
    memory = memory_store(clock)
    for i in range(8):
        await memory.hit(f"rate:address:10.0.0.{i}", 1.0, clock.now)
        short = change(clock, expires_at=clock.now + 1)
        await memory.put_pending(key_of(short), short)
    kept = change(clock, expires_at=clock.now + 7200)
    await memory.put_pending(key_of(kept), kept)
    clock.advance(3602)
    assert (await memory.hit("rate:address:10.0.0.0", 1.0, clock.now))[0] == 1  # reset, not new
    for i in range(8, 16):
        await memory.hit(f"rate:address:10.0.0.{i}", 60.0, clock.now)
        fresh = change(clock, expires_at=clock.now + 600)
        await memory.put_pending(key_of(fresh), fresh)
    assert len(memory._windows) == 9  # the 8 live ones and the one reset: 8 expired are gone
    assert len(memory._pending) == 9  # the 8 new ones and `kept`
    assert await memory.get_pending(key_of(kept)) == kept
    assert (await memory.count("rate:address:10.0.0.15", clock.now))[0] == 1


async def test_redis_holds_no_code_and_expires_records(redis_url: str, clock: ManualClock) -> None:
    store = RedisStore(redis_url, timeout_s=1.0, documents_max_bytes=1 << 20, clock=clock)
    pending = change(clock, expires_at=clock.now + 1)
    await store.put_pending(key_of(pending), pending)
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        assert await client.keys("customer-gateway:pending:*")
        ttl = await client.pttl(keys.redis_pending(key_of(pending)))
        assert 0 < ttl <= (1 + 3600) * 1000  # gone an hour after it expires, whatever happens
    finally:
        await client.aclose()
        await store.aclose()


async def test_redis_reads_records_an_earlier_version_wrote(
    redis_url: str, clock: ManualClock
) -> None:
    """Replicas of two versions share Redis during a rolling upgrade."""
    store = RedisStore(redis_url, timeout_s=1.0, documents_max_bytes=1 << 20, clock=clock)
    key = keys.pending_change("kibo", str(uuid.uuid4()), "email")
    old = (
        '{"backend": "kibo", "customer_id": "1", "kind": "email", "value": "a@example.org",'
        f' "expires_at": {clock.now + 600}, "code_digest": "{"d" * 64}", "attempts": 2,'
        ' "state": "pending", "lease_until": 0.0}'
    )
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        await client.set(keys.redis_pending(key), old, px=60_000)
        found = await store.get_pending(key)
        assert found is not None and found.id == "" and found.value == "a@example.org"
        claimed = await store.claim(key, found.id, "d" * 64, clock.now, 60)
        assert claimed.outcome is ClaimOutcome.CLAIMED
    finally:
        await client.aclose()
        await store.aclose()


async def test_documents_are_kept_by_digest(store: Store) -> None:
    digest = uuid.uuid4().hex * 2
    assert await store.get_document(digest) is None
    await store.put_document(digest, "{ backends { name } }")
    assert await store.get_document(digest) == "{ backends { name } }"


async def test_memory_documents_stay_within_their_budget_least_recently_used_first(
    clock: ManualClock,
) -> None:
    one = MemoryStore(clock, documents_max_bytes=10**6)
    await one.put_document("a" * 64, "a" * 10)
    entry = one._document_bytes  # what one short document costs, everything counted
    memory = MemoryStore(clock, documents_max_bytes=3 * entry)
    for name in ("a", "b", "c"):
        await memory.put_document(name * 64, name * 10)
    assert await memory.get_document("a" * 64) == "a" * 10  # now the most recently used
    await memory.put_document("d" * 64, "d" * 10)
    assert await memory.get_document("b" * 64) is None
    assert [await memory.get_document(n * 64) for n in "acd"] == ["a" * 10, "c" * 10, "d" * 10]


async def test_memory_documents_are_bounded_in_bytes_and_evicted_ones_freed(
    clock: ManualClock,
) -> None:
    """The budget is memory, not characters: a document with one emoji is stored at four
    bytes a character. Thousands of distinct documents through a 1 MiB table leave about
    1 MiB behind, so nothing holds on to what the table dropped."""
    budget = 1 << 20
    memory = MemoryStore(clock, documents_max_bytes=budget)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for i in range(4000):
            document = f"query Q{i} {{ backends {{ name }} }} # 🚀 " + "x" * 1500
            await memory.put_document(f"{i:064x}", document)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 0 < len(memory._documents) < 4000  # the oldest were dropped
    assert after - before < budget * 1.2, f"{(after - before) / 2**20:.1f} MiB held"


async def test_redis_documents_stay_within_their_budget_least_recently_used_first(
    redis_url: str, clock: ManualClock
) -> None:
    """Every replica's persisted documents in one Redis, bounded in bytes: a client sending
    documents nobody sends twice cannot make Redis hold more than the budget."""
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    earlier = await client.keys(keys.redis_document("*"))  # other tests' documents
    await client.delete(keys.redis_documents_used(), keys.redis_documents_bytes(), *earlier)
    store = RedisStore(redis_url, timeout_s=1.0, documents_max_bytes=30_000, clock=clock)
    try:
        await store.put_document("a" * 64, "a" * 10_000)
        clock.advance(1)
        await store.put_document("b" * 64, "b" * 10_000)
        clock.advance(1)
        assert await store.get_document("a" * 64) == "a" * 10_000  # now the most recent
        clock.advance(1)
        await store.put_document("c" * 64, "c" * 10_000)
        clock.advance(1)
        await store.put_document("d" * 64, "d" * 10_000)  # over the budget: b goes
        assert await store.get_document("b" * 64) is None
        assert [await store.get_document(n * 64) for n in "acd"] == [n * 10_000 for n in "acd"]
        for i in range(200):  # a flood of distinct documents
            clock.advance(1)
            await store.put_document(f"{i:064x}", f"{i}" * 2_000)
        held = [await client.strlen(key) for key in await client.keys(keys.redis_document("*"))]
        assert sum(held) <= 30_000
        assert int(await client.get(keys.redis_documents_bytes()) or 0) == sum(held)
        assert await client.zcard(keys.redis_documents_used()) == len(held)
    finally:
        await client.aclose()
        await store.aclose()
