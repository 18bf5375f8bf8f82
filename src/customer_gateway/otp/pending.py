"""A credential change waiting for its one-time code, and the states it moves through.

The store keeps these records (`customer_gateway.store`); every step that must not race is one
atomic store operation. Wrong codes are counted apart from the record, in the store's counters,
and taken before a code is checked (see `services.changes.attempts`).

```
pending --right code--> applying --write ok--> done (kept until it expires: a repeat confirm
   |                      |   \\                     with the same code answers the customer)
   |                      |    \\--outcome unknown--> uncertain --right code, after the write's
   |                      |                                        deadline--> applying (reconcile)
   |                      \\--write failed, nothing applied--> pending
   \\--last allowed wrong code--> cancelled (kept until it expires, so nothing can revive it)
```
A record in `applying` or `uncertain` keeps `lease_until`, the deadline of its write: before it,
another confirm neither writes nor takes the change over (CHANGE_IN_PROGRESS); after it, the
next confirm reads the backend and writes only if the change is not there.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "EXPIRED_RETENTION_S",
    "ChangeState",
    "ClaimOutcome",
    "ClaimResult",
    "PendingChange",
    "new_change_id",
]

# An expired change is kept this much longer, so that a late code answers OTP_EXPIRED rather
# than NO_PENDING_CHANGE; then it is gone.
EXPIRED_RETENTION_S = 3600.0


class ChangeState(StrEnum):
    PENDING = "pending"
    APPLYING = "applying"
    UNCERTAIN = "uncertain"
    CANCELLED = "cancelled"
    DONE = "done"


def new_change_id() -> str:
    """Tells one request's change from the next one's for the same customer and credential."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A credential change waiting for its one-time code.

    `code_digest` is the HMAC of the code for gateway-run flows; it is None where the backend
    checks the code itself. `id` names this change (a resend makes a new one), so that its
    wrong-code count and every state move apply to it alone.
    """

    backend: str
    customer_id: str
    kind: str
    value: str
    expires_at: float
    code_digest: str | None = None
    state: ChangeState = ChangeState.PENDING
    lease_until: float = 0.0
    id: str = field(default_factory=new_change_id)

    @property
    def live(self) -> bool:
        """Not cancelled and not done: a confirm may still change something."""
        return self.state not in (ChangeState.CANCELLED, ChangeState.DONE)

    def waiting(self, now: float) -> bool:
        """Whether a confirm could still succeed: live and not expired."""
        return self.live and now < self.expires_at

    @property
    def in_flight(self) -> bool:
        """A write was started and its outcome is not known yet."""
        return self.state in (ChangeState.APPLYING, ChangeState.UNCERTAIN)


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # the code was right: this caller alone may now write
    WRONG_CODE = "wrong_code"
    EXPIRED = "expired"  # too late; the change is dropped
    BUSY = "busy"  # right code, but a write is in flight until `lease_until`
    DONE = "done"  # right code for a change that was already applied
    NOTHING = "nothing"  # nothing pending, cancelled, or another change than the one checked


@dataclass(frozen=True, slots=True)
class ClaimResult:
    outcome: ClaimOutcome
    change: PendingChange | None = None  # as it was before the claim (its state says why)
