"""The OTP flow the gateway runs itself, for backends that have none (Kibo; Open Loyalty email).

A 6-digit code from `secrets` is kept only as an HMAC bound to (backend, customer, kind, value);
a confirm claims the change atomically in the store, so one code makes at most one write, and a
write whose outcome is unknown is reconciled by reading the backend before writing again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from customer_gateway.connectors.protocol import Connector, Credentials
from customer_gateway.domain import (
    BackendProtocolError,
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
from customer_gateway.otp.store import ChangeState, ClaimOutcome, PendingChange, Store, pending_key

__all__ = ["ChangeLimits", "GatewayOtpFlow", "same"]

_CHANNEL = {ChangeKind.EMAIL: "email", ChangeKind.PHONE_NUMBER: "sms"}
_PURPOSE = {ChangeKind.EMAIL: "email_change", ChangeKind.PHONE_NUMBER: "phone_number_change"}


@dataclass(frozen=True)
class ChangeLimits:
    """RELIABILITY.md defaults: code lifetime, wrong codes, and how often codes may be sent."""

    ttl_s: float = 600.0
    max_attempts: int = 5
    sends_per_customer: int = 3
    send_window_s: float = 900.0
    sends_per_address: int = 20
    address_window_s: float = 3600.0
    failures_per_customer: int = 20
    failure_window_s: float = 86400.0
    claim_lease_s: float = 60.0


class GatewayOtpFlow:
    def __init__(
        self,
        store: Store,
        hasher: CodeHasher,
        notifier: Notifier,
        limits: ChangeLimits,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.hasher = hasher
        self.notifier = notifier
        self.limits = limits
        self._clock = clock

    async def start(
        self, ref: CustomerRef, kind: ChangeKind, value: str, customer: Customer
    ) -> ChangeResult:
        """Store the code's HMAC, then send the code; a failed delivery leaves nothing behind."""
        if same(customer.credential(kind), value):
            return ChangeResult(pending=False, customer=customer)
        code = new_code()
        expires_at = self._clock() + self.limits.ttl_s
        digest = self.hasher.digest(
            backend=ref.backend, customer_id=ref.native_id, kind=kind.value, value=value, code=code
        )
        change = PendingChange(
            ref.backend, ref.native_id, kind.value, value, expires_at, code_digest=digest
        )
        await self.store.put_pending(change)  # replaces any earlier code: a resend
        message = OtpMessage(
            channel=_CHANNEL[kind],
            to=value,
            code=code,
            purpose=_PURPOSE[kind],
            backend=ref.backend,
            customer_id=encode_customer_id(ref.backend, ref.native_id),
        )
        try:
            await self.notifier.send(message)
        except Exception:  # the code never reached anyone: drop it rather than leave it waiting
            await self.store.delete_pending(change.key)
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
        count_failure: Callable[[], Awaitable[None]],
    ) -> Customer:
        """Claim the change with the code (atomic, single use), then write it once."""
        key = pending_key(ref.backend, ref.native_id, kind.value)
        pending = await self.store.get_pending(key)
        if pending is None or pending.code_digest is None:
            raise OtpError("NO_PENDING_CHANGE", backend=ref.backend)
        digest = self.hasher.digest(
            backend=ref.backend,
            customer_id=ref.native_id,
            kind=kind.value,
            value=pending.value,
            code=code,
        )
        limits = self.limits
        claim = await self.store.claim(
            key, digest, limits.max_attempts, self._clock(), limits.claim_lease_s
        )
        if claim.outcome is ClaimOutcome.NOTHING or claim.change is None:
            raise OtpError("NO_PENDING_CHANGE", backend=ref.backend)
        if claim.outcome is ClaimOutcome.EXPIRED:
            raise OtpError("OTP_EXPIRED", backend=ref.backend)
        if claim.outcome is not ClaimOutcome.CLAIMED:
            await count_failure()
            exceeded = claim.outcome is ClaimOutcome.EXCEEDED
            raise OtpError(
                "OTP_ATTEMPTS_EXCEEDED" if exceeded else "OTP_INVALID", backend=ref.backend
            )
        claimed = claim.change
        before = await read()
        uncertain = claimed.state in (ChangeState.UNCERTAIN, ChangeState.APPLYING)
        if uncertain and same(before.credential(kind), claimed.value):
            # An earlier write's outcome was unknown and it did land: finish without writing.
            await self.store.delete_pending(key)
            return before
        customer = await self._write(connector, ref, kind, claimed.value, credentials, key)
        await self.store.delete_pending(key)
        await self._notify_old_address(ref, kind, before.credential(kind))
        return customer

    async def _write(
        self,
        connector: Connector,
        ref: CustomerRef,
        kind: ChangeKind,
        value: str,
        credentials: Credentials,
        key: str,
    ) -> Customer:
        try:
            return await connector.change_credential(ref.native_id, kind, value, credentials)
        except BackendUnavailableError as error:
            state = ChangeState.UNCERTAIN if error.outcome_unknown else ChangeState.PENDING
            await self.store.release(key, state)
            raise
        except BackendProtocolError:  # it answered, but not so we can tell whether it applied
            await self.store.release(key, ChangeState.UNCERTAIN)
            raise
        except UserFacingError:  # the backend refused the value (e.g. taken): nothing to retry
            await self.store.delete_pending(key)
            raise
        except GatewayError:
            await self.store.release(key, ChangeState.PENDING)
            raise
        except BaseException:
            await self.store.release(key, ChangeState.UNCERTAIN)
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
