"""The OTP flow the gateway runs itself, for backends that have none (Kibo; Open Loyalty email).

A 6-digit code from `secrets` is kept only as an HMAC bound to (backend, customer, kind, value).
A confirm takes its attempt first (`attempts.py`), then claims the change atomically in the
store, so one code makes at most one write. A write whose outcome is unknown is reconciled by
reading the backend, and written again only after the first write's deadline has passed.
Confirms that meet a write in flight answer CHANGE_IN_PROGRESS with a retry-after, and a
repeat confirm of an applied change answers the customer.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from customer_gateway.connectors.protocol import Connector, Credentials
from customer_gateway.domain import (
    BackendProtocolError,
    BackendTimeoutError,
    BackendUnavailableError,
    ChangeKind,
    ChangeResult,
    Customer,
    CustomerRef,
    GatewayError,
    OtpError,
    UserFacingError,
    encode_customer_id,
)
from customer_gateway.otp.codes import CodeHasher, new_code
from customer_gateway.otp.notify import Notifier, OtpMessage
from customer_gateway.otp.pending import ChangeState, ClaimOutcome, PendingChange
from customer_gateway.services.changes.attempts import CodeAttempts
from customer_gateway.store import PendingChanges, keys

__all__ = ["ChangeLimits", "GatewayOtpFlow", "same"]

_CHANNEL = {ChangeKind.EMAIL: "email", ChangeKind.PHONE_NUMBER: "sms"}
_PURPOSE = {ChangeKind.EMAIL: "email_change", ChangeKind.PHONE_NUMBER: "phone_number_change"}


@dataclass(frozen=True)
class ChangeLimits:
    """RELIABILITY.md defaults: code lifetime, wrong codes, and how often codes may be sent.

    `write_deadline_s` bounds one confirm's backend write (per backend in `write_deadlines`,
    from its timeouts); until it has passed, no other confirm writes the same change.
    """

    ttl_s: float = 600.0
    max_attempts: int = 5
    sends_per_customer: int = 3
    send_window_s: float = 900.0
    sends_per_address: int = 20
    address_window_s: float = 3600.0
    failures_per_customer: int = 20
    failure_window_s: float = 86400.0
    write_deadline_s: float = 26.0
    write_deadlines: Mapping[str, float] | None = None

    def write_deadline(self, backend: str) -> float:
        return (self.write_deadlines or {}).get(backend, self.write_deadline_s)


class DeliveryTime:
    """How long delivering a code takes here (a moving average), so that not delivering one
    takes about as long: a request for an address another account holds answers as fast as
    one for a free address, and its timing says nothing either."""

    def __init__(self) -> None:
        self._average: float | None = None

    def observe(self, seconds: float) -> None:
        average = self._average
        self._average = seconds if average is None else 0.8 * average + 0.2 * seconds

    def typical(self) -> float:
        return (self._average or 0.0) * random.uniform(0.8, 1.2)  # noqa: S311 - jitter


@dataclass(frozen=True, eq=False)
class GatewayOtpFlow:
    store: PendingChanges
    attempts: CodeAttempts
    hasher: CodeHasher
    notifier: Notifier
    limits: ChangeLimits
    clock: Callable[[], float] = field(default=time.time, repr=False)
    _delivery: DeliveryTime = field(default_factory=DeliveryTime, init=False, repr=False)

    async def start(
        self, ref: CustomerRef, kind: ChangeKind, value: str, customer: Customer, *, send: bool
    ) -> ChangeResult:
        """Store the code's HMAC, then send the code; a failed delivery leaves nothing behind.
        With `send` False (the address belongs to another account) the change waits for a code
        that is never sent, and the answer is the same."""
        if same(customer.credential(kind), value):
            return ChangeResult(pending=False, customer=customer)
        code = new_code()
        expires_at = self.clock() + self.limits.ttl_s
        digest = self.hasher.digest(
            backend=ref.backend, customer_id=ref.native_id, kind=kind.value, value=value, code=code
        )
        change = PendingChange(
            ref.backend, ref.native_id, kind.value, value, expires_at, code_digest=digest
        )
        key = keys.pending_change(ref.backend, ref.native_id, kind.value)
        await self.store.put_pending(key, change)  # replaces any earlier code: a resend
        if not send:  # as long as a delivery would have taken, or the time would tell
            await asyncio.sleep(self._delivery.typical())
            return ChangeResult(True, customer, _utc(expires_at))
        message = OtpMessage(
            channel=_CHANNEL[kind],
            to=value,
            code=code,
            purpose=_PURPOSE[kind],
            backend=ref.backend,
            customer_id=encode_customer_id(ref.backend, ref.native_id),
        )
        started = time.perf_counter()
        try:
            await self.notifier.send(message)
            self._delivery.observe(time.perf_counter() - started)
        except Exception:  # the code never reached anyone: drop it rather than leave it waiting
            await self.store.delete_pending(key)
            raise BackendUnavailableError(
                "The code could not be sent.", backend="notifier"
            ) from None
        return ChangeResult(True, customer, _utc(expires_at))

    async def confirm(
        self,
        ref: CustomerRef,
        kind: ChangeKind,
        code: str,
        connector: Connector,
        credentials: Credentials,
        *,
        read: Callable[[], Awaitable[Customer]],
    ) -> Customer:
        """Take an attempt, claim the change with the code (atomic), then write it once."""
        key = keys.pending_change(ref.backend, ref.native_id, kind.value)
        pending = await self.store.get_pending(key)
        if pending is None or pending.code_digest is None or pending.state is ChangeState.CANCELLED:
            raise OtpError("NO_PENDING_CHANGE", backend=ref.backend)
        digest = self.hasher.digest(
            backend=ref.backend,
            customer_id=ref.native_id,
            kind=kind.value,
            value=pending.value,
            code=code,
        )
        attempt = await self.attempts.reserve(ref, key, pending)
        now = self.clock()
        lease_s = self.limits.write_deadline(ref.backend)
        try:
            claim = await self.store.claim(key, pending.id, digest, now, lease_s)
        except BaseException:
            await self.attempts.refund(attempt)
            raise
        if claim.outcome is ClaimOutcome.WRONG_CODE:
            raise await self.attempts.wrong(attempt, ref, key, pending)
        await self.attempts.refund(attempt)
        change = claim.change
        if claim.outcome is ClaimOutcome.NOTHING or change is None:
            raise OtpError("NO_PENDING_CHANGE", backend=ref.backend)
        if claim.outcome is ClaimOutcome.EXPIRED:
            raise OtpError("OTP_EXPIRED", backend=ref.backend)
        fresh = partial(connector.get_customer, ref.native_id, credentials)  # not the cached `me`
        if claim.outcome is ClaimOutcome.DONE:
            return await fresh()  # applied already: the same code gets the same answer
        if claim.outcome is ClaimOutcome.BUSY:
            return await self._meet_write_in_flight(key, kind, change, now, fresh)
        deadline = now + lease_s
        # Reconciling an earlier write needs the backend as it is now, not as it was when this
        # request began; otherwise the request's own read of the customer will do.
        before = fresh if change.in_flight else read
        return await self._apply(ref, kind, key, change, connector, credentials, before, deadline)

    async def _meet_write_in_flight(
        self,
        key: str,
        kind: ChangeKind,
        change: PendingChange,
        now: float,
        read: Callable[[], Awaitable[Customer]],
    ) -> Customer:
        """Another confirm's write may still land: done if the backend shows it, otherwise
        come back once that write's deadline has passed (never write it a second time now)."""
        current = await read()
        if same(current.credential(kind), change.value):
            await self.store.settle(key, change.id, ChangeState.DONE)
            return current
        raise OtpError(
            "CHANGE_IN_PROGRESS",
            field=None,
            backend=change.backend,
            retry_after=change.lease_until - now,
        )

    async def _apply(
        self,
        ref: CustomerRef,
        kind: ChangeKind,
        key: str,
        change: PendingChange,
        connector: Connector,
        credentials: Credentials,
        read: Callable[[], Awaitable[Customer]],
        deadline: float,
    ) -> Customer:
        """This confirm holds the change until `deadline`: read, write if needed, settle."""
        try:
            before = await read()
        except BaseException:  # nothing written: as it was, an earlier uncertainty kept
            previous = ChangeState.UNCERTAIN if change.in_flight else ChangeState.PENDING
            await self.store.settle(key, change.id, previous)
            raise
        if change.in_flight and same(before.credential(kind), change.value):
            # An earlier write's outcome was unknown and it did land: finish without writing.
            await self.store.settle(key, change.id, ChangeState.DONE)
            return before
        customer = await self._write(connector, ref, kind, change, credentials, key, deadline)
        await self.store.settle(key, change.id, ChangeState.DONE)
        await self._notify_old_address(ref, kind, before.credential(kind))
        return customer

    async def _write(
        self,
        connector: Connector,
        ref: CustomerRef,
        kind: ChangeKind,
        change: PendingChange,
        credentials: Credentials,
        key: str,
        deadline: float,
    ) -> Customer:
        """One write, cut off at the claim's deadline so it never outlives its lease."""
        try:
            async with asyncio.timeout(max(0.0, deadline - self.clock())):
                return await connector.change_credential(
                    ref.native_id, kind, change.value, credentials
                )
        except TimeoutError:  # our own deadline, mid-write: it may still land
            await self.store.settle(key, change.id, ChangeState.UNCERTAIN)
            raise BackendTimeoutError(backend=ref.backend, outcome_unknown=True) from None
        except BackendUnavailableError as error:
            state = ChangeState.UNCERTAIN if error.outcome_unknown else ChangeState.PENDING
            await self.store.settle(key, change.id, state)
            raise
        except BackendProtocolError:  # it answered, but not so we can tell whether it applied
            await self.store.settle(key, change.id, ChangeState.UNCERTAIN)
            raise
        except UserFacingError:  # the backend refused the value (e.g. taken): nothing to retry
            await self.store.delete_pending(key)
            raise
        except GatewayError:
            await self.store.settle(key, change.id, ChangeState.PENDING)
            raise
        except BaseException:
            await self.store.settle(key, change.id, ChangeState.UNCERTAIN)
            raise

    async def _notify_old_address(
        self, ref: CustomerRef, kind: ChangeKind, old: str | None
    ) -> None:
        """Tell the old address that it was replaced (no code, not the new address)."""
        if not old:
            return
        notice = OtpMessage(
            channel=_CHANNEL[kind],
            to=old,
            code=None,
            purpose="change_notice",
            backend=ref.backend,
            customer_id=encode_customer_id(ref.backend, ref.native_id),
        )
        try:
            await self.notifier.send(notice)
        except Exception:  # the change is done; a lost notice must not undo or fail it
            return


def same(current: str | None, wanted: str) -> bool:
    return current is not None and current.casefold() == wanted.casefold()


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
