"""Wrong-code attempts are taken before a code is checked, the same way in every OTP flow.

Before anything checks a code (the store's HMAC compare for gateway-run flows, the vendor's
verify endpoint for Menu's and Open Loyalty's own), a confirm reserves two slots atomically in
the store: one of the change's `max_attempts`, then one of the customer's daily wrong codes. A
wrong code keeps both; any other outcome gives both back. So N concurrent guesses make at most
`max_attempts` checks, and a slow vendor cannot be raced past its limit. A confirm that finds
every attempt taken by confirms still being checked is told to come back (CHANGE_IN_PROGRESS);
only spent attempts answer OTP_ATTEMPTS_EXCEEDED.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field

from customer_gateway.domain import (
    CustomerRef,
    OtpError,
    RateLimitedError,
    StoreUnavailableError,
)
from customer_gateway.otp.pending import EXPIRED_RETENTION_S, ChangeState, PendingChange
from customer_gateway.store import Counters, PendingChanges, keys

__all__ = ["Attempt", "CodeAttempts"]

# How soon a confirm turned away by confirms still being checked should come back.
CHECK_RETRY_AFTER_S = 1.0


@dataclass(frozen=True, slots=True)
class Attempt:
    """The reserved slots, and where this change's wrong codes are counted."""

    slots: tuple[str, ...]
    wrong_codes: str = ""
    lifetime_s: float = 0.0


@dataclass(frozen=True, eq=False)
class CodeAttempts:
    counters: Counters
    changes: PendingChanges
    _: KW_ONLY
    max_attempts: int
    failures_per_customer: int
    failure_window_s: float
    clock: Callable[[], float] = field(default=time.time, repr=False)

    async def reserve(self, ref: CustomerRef, key: str, change: PendingChange) -> Attempt:
        """When the change has no attempt left: OTP_ATTEMPTS_EXCEEDED if they are spent, else
        CHANGE_IN_PROGRESS; then RATE_LIMITED past the daily ceiling. The change's own slot is
        taken first, so concurrent confirms of one change hold at most `max_attempts` of the
        customer's daily slots, never the whole day's."""
        now = self.clock()
        own = keys.otp_attempts(key, change.id)
        wrong_codes = keys.otp_wrong_codes(key, change.id)
        lifetime = max(1.0, change.expires_at + EXPIRED_RETENTION_S - now)
        taken, _, _ = await self.counters.reserve(own, self.max_attempts, lifetime, now)
        if not taken:
            spent, _ = await self.counters.count(wrong_codes, now)
            if spent >= self.max_attempts:
                raise OtpError("OTP_ATTEMPTS_EXCEEDED", backend=ref.backend)
            raise OtpError(
                "CHANGE_IN_PROGRESS",
                field=None,
                backend=ref.backend,
                retry_after=CHECK_RETRY_AFTER_S,
            )
        daily = keys.otp_failures(ref.backend, ref.native_id)
        try:
            taken, _, left = await self.counters.reserve(
                daily, self.failures_per_customer, self.failure_window_s, now
            )
        except BaseException:
            await self.refund(Attempt((own,)))
            raise
        if not taken:
            await self.refund(Attempt((own,)))
            raise RateLimitedError(left)
        return Attempt((own, daily), wrong_codes, lifetime)

    async def refund(self, attempt: Attempt) -> None:
        """The code was right, or never checked: it costs no attempt. If the store is out the
        slots stay taken, which errs on the safe side."""
        with contextlib.suppress(StoreUnavailableError):
            for slot in attempt.slots:
                await self.counters.refund(slot)

    async def wrong(
        self, attempt: Attempt, ref: CustomerRef, key: str, change: PendingChange
    ) -> OtpError:
        """Keep the slots and count the wrong code; the last allowed one cancels the change.
        Returns the error to raise."""
        spent, _ = await self.counters.hit(attempt.wrong_codes, attempt.lifetime_s, self.clock())
        if spent < self.max_attempts:
            return OtpError("OTP_INVALID", backend=ref.backend)
        await self.changes.settle(key, change.id, ChangeState.CANCELLED)
        return OtpError("OTP_ATTEMPTS_EXCEEDED", backend=ref.backend)
