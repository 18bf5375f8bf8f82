"""Where pending credential changes and rate-limit counters live, so any replica can see them.

`memory://` keeps them in this process (one replica); `redis://` shares them across replicas.
Every step that must not race (counting a wrong code, claiming a change for its one write,
counting requests in a window) is one atomic store operation.

A pending change moves through these states:

```
pending --right code--> applying --write ok--> (deleted)
   |  ^                    |  \\--write failed, nothing applied--> pending
   |  |                    \\--outcome unknown--> uncertain --right code--> applying (reconcile)
   \\--5th wrong code--> cancelled (kept until it expires, so nothing can revive it)
```
"""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol, TypeVar

__all__ = [
    "EXPIRED_RETENTION_S",
    "ChangeState",
    "ClaimOutcome",
    "ClaimResult",
    "MemoryStore",
    "PendingChange",
    "Store",
    "pending_key",
]


class ChangeState(StrEnum):
    PENDING = "pending"
    APPLYING = "applying"
    UNCERTAIN = "uncertain"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A credential change waiting for its one-time code.

    `code_digest` is the HMAC of the code for gateway-run flows; it is None where the backend
    checks the code itself. `lease_until` bounds how long one confirm may hold the change.
    """

    backend: str
    customer_id: str
    kind: str
    value: str
    expires_at: float
    code_digest: str | None = None
    attempts: int = 0
    state: ChangeState = ChangeState.PENDING
    lease_until: float = 0.0

    @property
    def key(self) -> str:
        return pending_key(self.backend, self.customer_id, self.kind)

    @property
    def live(self) -> bool:
        return self.state is not ChangeState.CANCELLED

    def waiting(self, now: float) -> bool:
        """Whether a confirm could still succeed: not cancelled and not expired."""
        return self.live and now < self.expires_at


def pending_key(backend: str, customer_id: str, kind: str) -> str:
    return f"pending:{backend}:{customer_id}:{kind}"


# An expired change is kept this much longer, so that a late code answers OTP_EXPIRED rather
# than NO_PENDING_CHANGE; then it is gone.
EXPIRED_RETENTION_S = 3600.0

# Persisted query documents: all of them together in memory, and each one's life in Redis.
DOCUMENTS_MAX_CHARS = 16 * 1024 * 1024
DOCUMENT_TTL_S = 7 * 24 * 3600


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # the code was right: this caller alone may now write
    WRONG_CODE = "wrong_code"
    EXCEEDED = "exceeded"  # that wrong code was the last allowed; the change is cancelled
    EXPIRED = "expired"  # too late; the change is dropped
    NOTHING = "nothing"  # nothing pending, cancelled, or another confirm holds it


@dataclass(frozen=True, slots=True)
class ClaimResult:
    outcome: ClaimOutcome
    change: PendingChange | None = None  # as it was before the claim (its state says why)


class Store(Protocol):
    async def get_pending(self, key: str) -> PendingChange | None: ...

    async def put_pending(self, change: PendingChange) -> None:
        """Create or replace (a resend replaces the old code and its attempt count)."""
        ...

    async def record_failure(self, key: str, max_attempts: int) -> int:
        """Count a wrong code for a backend-run flow; cancels at max. Returns the new count."""
        ...

    async def claim(
        self, key: str, code_digest: str, max_attempts: int, now: float, lease_s: float
    ) -> ClaimResult:
        """Check a code and, if right, move the change to `applying` — one atomic step."""
        ...

    async def release(self, key: str, state: ChangeState) -> None:
        """After a failed write: back to `pending`, or `uncertain` when it may have landed."""
        ...

    async def delete_pending(self, key: str) -> None: ...

    async def hit(self, key: str, window_s: float, now: float) -> tuple[int, float]:
        """Count an event in a fixed window: (count so far, seconds until the window ends)."""
        ...

    async def window_count(self, key: str, now: float) -> tuple[int, float]:
        """The count `hit` has reached in the current window, without adding to it."""
        ...

    async def get_document(self, digest: str) -> str | None:
        """A persisted query document by its SHA-256 hex digest."""
        ...

    async def put_document(self, digest: str, document: str) -> None:
        """Keep a document for a while (bounded: old or excess documents are dropped)."""
        ...

    async def ping(self) -> bool: ...

    async def aclose(self) -> None: ...


SWEEP_MIN_ENTRIES = 1024
V = TypeVar("V")


class MemoryStore:
    """The single-process store. No awaits inside an operation, so each one is atomic.

    Entries nobody asks for again (the window of a client that went away, the change a customer
    never confirmed) are swept out whenever a table has doubled since its last sweep, so
    memory follows the live entries, not every client ever seen, at amortised constant cost.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._pending: dict[str, PendingChange] = {}
        self._windows: dict[str, tuple[int, float]] = {}
        self._sweep_at = {"pending": SWEEP_MIN_ENTRIES, "windows": SWEEP_MIN_ENTRIES}
        self._documents: OrderedDict[str, str] = OrderedDict()  # least recently used first
        self._document_chars = 0

    def _live(self, key: str) -> PendingChange | None:
        change = self._pending.get(key)
        if change is not None and change.expires_at + EXPIRED_RETENTION_S <= self._clock():
            del self._pending[key]
            return None
        return change

    async def get_pending(self, key: str) -> PendingChange | None:
        return self._live(key)

    async def put_pending(self, change: PendingChange) -> None:
        if change.key not in self._pending:
            gone = self._clock() - EXPIRED_RETENTION_S
            self._sweep("pending", self._pending, lambda c: c.expires_at > gone)
        self._pending[change.key] = change

    def _sweep(self, name: str, table: dict[str, V], live: Callable[[V], bool]) -> None:
        """Before a table grows past twice its size at the last sweep, drop what has expired."""
        if len(table) < self._sweep_at[name]:
            return
        for key in [key for key, entry in table.items() if not live(entry)]:
            del table[key]
        self._sweep_at[name] = max(SWEEP_MIN_ENTRIES, 2 * len(table))

    async def record_failure(self, key: str, max_attempts: int) -> int:
        change = self._live(key)
        if change is None or not change.waiting(self._clock()):
            return 0
        attempts = change.attempts + 1
        state = ChangeState.CANCELLED if attempts >= max_attempts else change.state
        self._pending[key] = replace(change, attempts=attempts, state=state)
        return attempts

    async def claim(
        self, key: str, code_digest: str, max_attempts: int, now: float, lease_s: float
    ) -> ClaimResult:
        change = self._live(key)
        if change is None or change.code_digest is None or not change.live:
            return ClaimResult(ClaimOutcome.NOTHING)
        if now >= change.expires_at:
            del self._pending[key]
            return ClaimResult(ClaimOutcome.EXPIRED, change)
        if change.state is ChangeState.APPLYING and change.lease_until > now:
            return ClaimResult(ClaimOutcome.NOTHING, change)
        if not hmac.compare_digest(change.code_digest, code_digest):
            attempts = change.attempts + 1
            if attempts >= max_attempts:
                self._pending[key] = replace(change, attempts=attempts, state=ChangeState.CANCELLED)
                return ClaimResult(ClaimOutcome.EXCEEDED, change)
            self._pending[key] = replace(change, attempts=attempts)
            return ClaimResult(ClaimOutcome.WRONG_CODE, change)
        self._pending[key] = replace(change, state=ChangeState.APPLYING, lease_until=now + lease_s)
        return ClaimResult(ClaimOutcome.CLAIMED, change)

    async def release(self, key: str, state: ChangeState) -> None:
        change = self._live(key)
        if change is not None and change.state is ChangeState.APPLYING:
            self._pending[key] = replace(change, state=state, lease_until=0.0)

    async def delete_pending(self, key: str) -> None:
        self._pending.pop(key, None)

    async def hit(self, key: str, window_s: float, now: float) -> tuple[int, float]:
        if key not in self._windows:
            self._sweep("windows", self._windows, lambda window: window[1] > now)
        count, ends = self._windows.get(key, (0, now + window_s))
        if ends <= now:
            count, ends = 0, now + window_s
        self._windows[key] = (count + 1, ends)
        return count + 1, ends - now

    async def window_count(self, key: str, now: float) -> tuple[int, float]:
        count, ends = self._windows.get(key, (0, now))
        return (count, ends - now) if ends > now else (0, 0.0)

    async def get_document(self, digest: str) -> str | None:
        document = self._documents.get(digest)
        if document is not None:
            self._documents.move_to_end(digest)
        return document

    async def put_document(self, digest: str, document: str) -> None:
        if digest in self._documents:
            self._documents.move_to_end(digest)
            return
        self._documents[digest] = document
        self._document_chars += len(document)
        while self._document_chars > DOCUMENTS_MAX_CHARS:
            _, dropped = self._documents.popitem(last=False)
            self._document_chars -= len(dropped)

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None
