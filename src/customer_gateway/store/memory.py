"""The single-process store (`memory://`): one replica, nothing shared, nothing to time out.

No operation awaits inside, so each one is atomic on the event loop. Entries nobody asks for
again (the window of a client that went away, the change a customer never confirmed) are swept
out whenever a table has doubled since its last sweep, so memory follows the live entries, not
every client ever seen, at amortised constant cost.
"""

from __future__ import annotations

import hmac
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from customer_gateway.otp.pending import (
    EXPIRED_RETENTION_S,
    ChangeState,
    ClaimOutcome,
    ClaimResult,
    PendingChange,
)
from customer_gateway.store.interfaces import Reservation

__all__ = ["DOCUMENT_ENTRY_OVERHEAD", "MemoryStore"]

SWEEP_MIN_ENTRIES = 1024
# What one document costs besides its two strings: the table's slot and order links.
DOCUMENT_ENTRY_OVERHEAD = 112
V = TypeVar("V")


def _document_cost(digest: str, document: str) -> int:
    """Bytes held, not characters: one emoji makes CPython store a text at 4 bytes a char."""
    return sys.getsizeof(document) + sys.getsizeof(digest) + DOCUMENT_ENTRY_OVERHEAD


class MemoryStore:
    def __init__(self, clock: Callable[[], float] = time.time, *, documents_max_bytes: int) -> None:
        self._clock = clock
        self._pending: dict[str, PendingChange] = {}
        self._windows: dict[str, tuple[int, float]] = {}
        self._sweep_at = {"pending": SWEEP_MIN_ENTRIES, "windows": SWEEP_MIN_ENTRIES}
        self._documents: OrderedDict[str, str] = OrderedDict()  # least recently used first
        self._documents_max_bytes = documents_max_bytes
        self._document_bytes = 0

    # --- pending changes -------------------------------------------------------------------

    def _live(self, key: str) -> PendingChange | None:
        change = self._pending.get(key)
        if change is not None and change.expires_at + EXPIRED_RETENTION_S <= self._clock():
            del self._pending[key]
            return None
        return change

    async def get_pending(self, key: str) -> PendingChange | None:
        return self._live(key)

    async def put_pending(self, key: str, change: PendingChange) -> None:
        if key not in self._pending:
            gone = self._clock() - EXPIRED_RETENTION_S
            self._sweep("pending", self._pending, lambda c: c.expires_at > gone)
        self._pending[key] = change

    async def delete_pending(self, key: str) -> None:
        self._pending.pop(key, None)

    async def claim(
        self, key: str, change_id: str, code_digest: str, now: float, lease_s: float
    ) -> ClaimResult:
        change = self._live(key)
        if (
            change is None
            or change.id != change_id
            or change.code_digest is None
            or change.state is ChangeState.CANCELLED
        ):
            return ClaimResult(ClaimOutcome.NOTHING, change)
        right = hmac.compare_digest(change.code_digest, code_digest)
        if change.state is ChangeState.DONE:
            return ClaimResult(ClaimOutcome.DONE if right else ClaimOutcome.NOTHING, change)
        if now >= change.expires_at:
            del self._pending[key]
            return ClaimResult(ClaimOutcome.EXPIRED, change)
        if not right:
            return ClaimResult(ClaimOutcome.WRONG_CODE, change)
        if change.in_flight and change.lease_until > now:
            return ClaimResult(ClaimOutcome.BUSY, change)
        self._pending[key] = replace(change, state=ChangeState.APPLYING, lease_until=now + lease_s)
        return ClaimResult(ClaimOutcome.CLAIMED, change)

    async def settle(self, key: str, change_id: str, state: ChangeState) -> bool:
        change = self._live(key)
        if change is None or change.id != change_id or not change.live:
            return False
        if state in (ChangeState.PENDING, ChangeState.UNCERTAIN):
            if change.state is not ChangeState.APPLYING:
                return False
        elif state is ChangeState.DONE and not change.in_flight:
            return False
        lease = change.lease_until if state in (ChangeState.UNCERTAIN, ChangeState.DONE) else 0.0
        self._pending[key] = replace(change, state=state, lease_until=lease)
        return True

    def _sweep(self, name: str, table: dict[str, V], live: Callable[[V], bool]) -> None:
        """Before a table grows past twice its size at the last sweep, drop what has expired."""
        if len(table) < self._sweep_at[name]:
            return
        for key in [key for key, entry in table.items() if not live(entry)]:
            del table[key]
        self._sweep_at[name] = max(SWEEP_MIN_ENTRIES, 2 * len(table))

    # --- counters --------------------------------------------------------------------------

    def _window(self, key: str, window_s: float, now: float) -> tuple[int, float]:
        if key not in self._windows:
            self._sweep("windows", self._windows, lambda window: window[1] > now)
        count, ends = self._windows.get(key, (0, now + window_s))
        return (0, now + window_s) if ends <= now else (count, ends)

    async def hit(self, key: str, window_s: float, now: float) -> tuple[int, float]:
        count, ends = self._window(key, window_s, now)
        self._windows[key] = (count + 1, ends)
        return count + 1, ends - now

    async def count(self, key: str, now: float) -> tuple[int, float]:
        count, ends = self._windows.get(key, (0, now))
        return (count, ends - now) if ends > now else (0, 0.0)

    async def reserve(self, key: str, limit: int, window_s: float, now: float) -> Reservation:
        count, ends = self._window(key, window_s, now)
        if count >= limit:
            return False, count, ends - now
        self._windows[key] = (count + 1, ends)
        return True, count + 1, ends - now

    async def refund(self, key: str) -> None:
        count, ends = self._windows.get(key, (0, 0.0))
        if count > 0 and ends > self._clock():
            self._windows[key] = (count - 1, ends)

    # --- documents -------------------------------------------------------------------------

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
        self._document_bytes += _document_cost(digest, document)
        while self._document_bytes > self._documents_max_bytes:
            dropped_digest, dropped = self._documents.popitem(last=False)
            self._document_bytes -= _document_cost(dropped_digest, dropped)

    # --- lifecycle -------------------------------------------------------------------------

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None
