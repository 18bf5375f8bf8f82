"""The store's narrow interfaces: each consumer gets only the part it uses.

Any operation may raise `StoreUnavailableError` (domain) when the store does not answer within
`[store] timeout_s`; `guard.py` decides what each consumer does then.
"""

from __future__ import annotations

from typing import Protocol

from customer_gateway.otp.pending import ChangeState, ClaimResult, PendingChange

__all__ = ["Counters", "Documents", "PendingChanges", "Reservation", "Store"]


class PendingChanges(Protocol):
    """OTP-confirmed changes; `key` comes from `keys.pending_change`."""

    async def get_pending(self, key: str) -> PendingChange | None: ...

    async def put_pending(self, key: str, change: PendingChange) -> None:
        """Create or replace (a resend replaces the old code, and with it the change's id)."""
        ...

    async def delete_pending(self, key: str) -> None: ...

    async def claim(
        self, key: str, change_id: str, code_digest: str, now: float, lease_s: float
    ) -> ClaimResult:
        """Check a code and, if right, move the change to `applying` until `now + lease_s`,
        in one atomic step. Counts nothing: wrong codes are reserved beforehand (Counters)."""
        ...

    async def settle(self, key: str, change_id: str, state: ChangeState) -> bool:
        """Move the change `change_id` (and no later one) on after a write or a check:
        to `pending` (nothing applied) or `uncertain` (may have landed; its lease stays the
        deadline) only from `applying`; to `done` from `applying` or `uncertain`; to
        `cancelled` from any live state. False if nothing moved."""
        ...


Reservation = tuple[bool, int, float]
"""(taken, count including this one if taken, seconds until the window ends)."""


class Counters(Protocol):
    """Events counted in fixed windows: rate limits, code sends, wrong codes."""

    async def hit(self, key: str, window_s: float, now: float) -> tuple[int, float]:
        """Count an event: (count so far, seconds until the window ends)."""
        ...

    async def count(self, key: str, now: float) -> tuple[int, float]:
        """The count `hit` and `reserve` have reached in the current window, adding nothing."""
        ...

    async def reserve(self, key: str, limit: int, window_s: float, now: float) -> Reservation:
        """Take one of `limit` slots before the attempt it stands for, atomically, so that N
        concurrent attempts never take more than `limit`; refused (nothing added) when full."""
        ...

    async def refund(self, key: str) -> None:
        """Give a reserved slot back (the attempt turned out not to count)."""
        ...


class Documents(Protocol):
    """Persisted query documents by their SHA-256 hex digest."""

    async def get_document(self, digest: str) -> str | None: ...

    async def put_document(self, digest: str, document: str) -> None:
        """Keep a document for a while (bounded: old or excess documents are dropped)."""
        ...


class Store(PendingChanges, Counters, Documents, Protocol):
    async def ping(self) -> bool: ...

    async def aclose(self) -> None: ...
