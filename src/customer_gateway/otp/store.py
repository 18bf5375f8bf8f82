"""Where pending credential changes and rate-limit counters live, so any replica can see them.

`memory://` keeps them in this process (one replica); the Redis store shares them across replicas.
Every operation that must not race (attempt counting, consuming a code, counting requests) is a
single atomic store operation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

__all__ = ["MemoryStore", "PendingChange", "Store", "pending_key"]


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A credential change waiting for its one-time code.

    `code_digest` is the HMAC of the code for gateway-run flows (None where the backend checks the
    code itself); `cancelled` marks a change stopped after too many wrong codes, kept until it
    expires so that the backend's own pending flag cannot revive it.
    """

    backend: str
    customer_id: str
    kind: str
    value: str
    expires_at: float
    code_digest: str | None = None
    attempts: int = 0
    cancelled: bool = False

    @property
    def key(self) -> str:
        return pending_key(self.backend, self.customer_id, self.kind)


def pending_key(backend: str, customer_id: str, kind: str) -> str:
    return f"pending:{backend}:{customer_id}:{kind}"


class Store(Protocol):
    async def get_pending(self, key: str) -> PendingChange | None: ...

    async def put_pending(self, change: PendingChange) -> None: ...

    async def record_failure(self, key: str) -> int:
        """Count one wrong code atomically; returns the new count (0 when nothing is pending)."""
        ...

    async def cancel_pending(self, key: str) -> None: ...

    async def delete_pending(self, key: str) -> None: ...

    async def hit(self, key: str, window_s: float) -> tuple[int, float]:
        """Count an event in a fixed window: (count so far, seconds until the window ends)."""
        ...

    async def ping(self) -> bool: ...

    async def aclose(self) -> None: ...


class MemoryStore:
    """The single-process store; entries expire on read."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._pending: dict[str, PendingChange] = {}
        self._windows: dict[str, tuple[int, float]] = {}

    def _live(self, key: str) -> PendingChange | None:
        change = self._pending.get(key)
        if change is not None and change.expires_at <= self._clock():
            del self._pending[key]
            return None
        return change

    async def get_pending(self, key: str) -> PendingChange | None:
        return self._live(key)

    async def put_pending(self, change: PendingChange) -> None:
        self._pending[change.key] = change

    async def record_failure(self, key: str) -> int:
        change = self._live(key)
        if change is None or change.cancelled:
            return 0
        self._pending[key] = replace(change, attempts=change.attempts + 1)
        return change.attempts + 1

    async def cancel_pending(self, key: str) -> None:
        change = self._live(key)
        if change is not None:
            self._pending[key] = replace(change, cancelled=True, code_digest=None)

    async def delete_pending(self, key: str) -> None:
        self._pending.pop(key, None)

    async def hit(self, key: str, window_s: float) -> tuple[int, float]:
        now = self._clock()
        count, ends = self._windows.get(key, (0, now + window_s))
        if ends <= now:
            count, ends = 0, now + window_s
        self._windows[key] = (count + 1, ends)
        return count + 1, ends - now

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None
