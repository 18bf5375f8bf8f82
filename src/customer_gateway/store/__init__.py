"""The gateway's shared state: pending OTP changes, counters and persisted query documents.

`memory://` keeps them in this process (one replica); `redis://` shares them across replicas,
every call bounded by `[store] timeout_s` (see `guard.py` for what happens when it is out).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from customer_gateway.store.guard import BestEffortDocuments, FallbackCounters, GuardedStore
from customer_gateway.store.interfaces import Counters, Documents, PendingChanges, Store
from customer_gateway.store.memory import MemoryStore

__all__ = [
    "BestEffortDocuments",
    "Counters",
    "Documents",
    "FallbackCounters",
    "GuardedStore",
    "MemoryStore",
    "PendingChanges",
    "Store",
    "build_store",
    "persisted_documents",
    "rate_counters",
]


def build_store(
    url: str,
    *,
    timeout_s: float,
    documents_max_bytes: int,
    clock: Callable[[], float] = time.time,
) -> Store:
    if url == "memory://":
        return MemoryStore(clock, documents_max_bytes=documents_max_bytes)
    from customer_gateway.store.redis_store import RedisStore  # only deployments that use it

    redis = RedisStore(
        url, timeout_s=timeout_s, documents_max_bytes=documents_max_bytes, clock=clock
    )
    return GuardedStore(redis, timeout_s=timeout_s, failures=RedisStore.FAILURES)


def rate_counters(store: Store, clock: Callable[[], float] = time.time) -> Counters:
    """The counters request rate limits use: a store that can be out gets a per-process
    fallback; the memory store is never out."""
    if isinstance(store, GuardedStore):
        return FallbackCounters(store, MemoryStore(clock, documents_max_bytes=0))
    return store


def persisted_documents(store: Store) -> Documents:
    """The documents persisted queries use: a look-up misses while the store is out."""
    return BestEffortDocuments(store) if isinstance(store, GuardedStore) else store
