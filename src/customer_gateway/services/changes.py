"""Email and phone-number changes behind a one-time code.

The connector says which flow applies (ChangeFlow): DIRECT writes at once; BACKEND_OTP lets the
vendor send and check the code while the gateway still counts wrong codes (defence in depth);
GATEWAY_OTP is run here: a code from `secrets`, kept only as an HMAC, claimed atomically by one
confirm, and only then written to the backend. Input is validated before any upstream call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from customer_gateway.connectors.protocol import (
    Capability,
    ChangeFlow,
    Connector,
    Credentials,
    ServiceCredentials,
)
from customer_gateway.domain import (
    BackendUnavailableError,
    ChangeKind,
    ChangeResult,
    Customer,
    CustomerRef,
    GatewayError,
    OtpError,
    RateLimitedError,
    UserFacingError,
    decode_customer_id,
    encode_customer_id,
)
from customer_gateway.otp.codes import CodeHasher, new_code
from customer_gateway.otp.notify import Notifier, OtpMessage
from customer_gateway.otp.store import (
    ChangeState,
    ClaimOutcome,
    PendingChange,
    Store,
    pending_key,
)
from customer_gateway.services.auth import Caller
from customer_gateway.services.backends import Backends
from customer_gateway.services.validation import normalise_email, normalise_phone_number

__all__ = ["ChangeLimits", "ChangeService"]

_CAPABILITY = {
    ChangeKind.EMAIL: Capability.CHANGE_EMAIL,
    ChangeKind.PHONE_NUMBER: Capability.CHANGE_PHONE_NUMBER,
}
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


class ChangeService:
    def __init__(
        self,
        backends: Backends,
        store: Store,
        *,
        hasher: CodeHasher,
        notifier: Notifier,
        limits: ChangeLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backends = backends
        self.store = store
        self.hasher = hasher
        self.notifier = notifier
        self.limits = limits or ChangeLimits()
        self._clock = clock

    # --- request -------------------------------------------------------------------------

    async def request(
        self, global_id: str, kind: ChangeKind, value: str, caller: Caller
    ) -> ChangeResult:
        if kind is ChangeKind.EMAIL:
            value = normalise_email(value)
        else:
            value = normalise_phone_number(value)
        ref = decode_customer_id(global_id)
        connector = self.backends.require(ref.backend, _CAPABILITY[kind])
        credentials = await caller.credentials_for(ref)
        flow = connector.change_flow(kind)
        key = pending_key(ref.backend, ref.native_id, kind.value)
        if flow is ChangeFlow.DIRECT:
            customer = await connector.change_credential(ref.native_id, kind, value, credentials)
            return ChangeResult(pending=False, customer=customer)
        await self._limit_sends(ref, caller)
        if flow is ChangeFlow.GATEWAY_OTP:
            return await self._start_gateway_change(ref, kind, value, caller, connector)
        customer = await connector.change_credential(ref.native_id, kind, value, credentials)
        if _same(customer.credential(kind), value):  # the backend applied it without a code
            await self.store.delete_pending(key)
            return ChangeResult(pending=False, customer=customer)
        expires_at = self._clock() + self.limits.ttl_s
        await self.store.put_pending(
            PendingChange(ref.backend, ref.native_id, kind.value, value, expires_at)
        )
        return ChangeResult(True, customer, _utc(expires_at))

    async def _start_gateway_change(
        self,
        ref: CustomerRef,
        kind: ChangeKind,
        value: str,
        caller: Caller,
        connector: Connector,
    ) -> ChangeResult:
        customer = await self._read(connector, ref, caller)
        if _same(customer.credential(kind), value):
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

    async def _limit_sends(self, ref: CustomerRef, caller: Caller) -> None:
        """At most N codes per customer per window, and per client address (cost and spam)."""
        now = self._clock()
        limits = self.limits
        count, left = await self.store.hit(
            f"otp-send:{ref.backend}:{ref.native_id}", limits.send_window_s, now
        )
        if count > limits.sends_per_customer:
            raise RateLimitedError(left)
        if caller.client_address:
            count, left = await self.store.hit(
                f"otp-send-address:{caller.client_address}", limits.address_window_s, now
            )
            if count > limits.sends_per_address:
                raise RateLimitedError(left)

    # --- confirm -------------------------------------------------------------------------

    async def confirm(
        self, global_id: str, kind: ChangeKind, code: str, caller: Caller
    ) -> Customer:
        ref = decode_customer_id(global_id)
        connector = self.backends.require(ref.backend, _CAPABILITY[kind])
        credentials = await caller.credentials_for(ref)
        flow = connector.change_flow(kind)
        if flow is ChangeFlow.DIRECT:
            raise OtpError("NO_PENDING_CHANGE", backend=ref.backend)
        await self._check_failure_ceiling(ref)
        code = code.strip()
        if flow is ChangeFlow.GATEWAY_OTP:
            return await self._confirm_gateway_change(
                ref, kind, code, caller, connector, credentials
            )
        return await self._confirm_backend_change(ref, kind, code, caller, connector, credentials)

    async def _confirm_backend_change(
        self,
        ref: CustomerRef,
        kind: ChangeKind,
        code: str,
        caller: Caller,
        connector: Connector,
        credentials: Credentials,
    ) -> Customer:
        key = pending_key(ref.backend, ref.native_id, kind.value)
        pending = await self.store.get_pending(key)
        if pending is None:
            pending = await self._adopt_backend_pending(connector, ref, kind, caller)
        if not pending.live:
            raise OtpError("NO_PENDING_CHANGE", backend=ref.backend)
        if not pending.waiting(self._clock()):
            await self.store.delete_pending(key)
            raise OtpError("OTP_EXPIRED", backend=ref.backend)
        try:
            if not (len(code) == 6 and code.isascii() and code.isdigit()):
                raise OtpError("OTP_INVALID", backend=ref.backend)
            customer = await connector.confirm_change(ref.native_id, kind, code, credentials)
        except OtpError as error:
            if error.code != "OTP_INVALID":
                raise
            await self._count_failure(ref)
            attempts = await self.store.record_failure(key, self.limits.max_attempts)
            if attempts >= self.limits.max_attempts:
                raise OtpError("OTP_ATTEMPTS_EXCEEDED", backend=ref.backend) from None
            raise
        await self.store.delete_pending(key)
        return customer

    async def _confirm_gateway_change(
        self,
        ref: CustomerRef,
        kind: ChangeKind,
        code: str,
        caller: Caller,
        connector: Connector,
        credentials: Credentials,
    ) -> Customer:
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
            await self._count_failure(ref)
            exceeded = claim.outcome is ClaimOutcome.EXCEEDED
            raise OtpError(
                "OTP_ATTEMPTS_EXCEEDED" if exceeded else "OTP_INVALID", backend=ref.backend
            )
        claimed = claim.change
        before = await self._read(connector, ref, caller)
        uncertain = claimed.state in (ChangeState.UNCERTAIN, ChangeState.APPLYING)
        if uncertain and _same(before.credential(kind), claimed.value):
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

    def _failure_key(self, ref: CustomerRef) -> str:
        return f"otp-failures:{ref.backend}:{ref.native_id}"

    async def _check_failure_ceiling(self, ref: CustomerRef) -> None:
        """An account-level ceiling on wrong codes, across every pending change."""
        count, left = await self.store.window_count(self._failure_key(ref), self._clock())
        if count >= self.limits.failures_per_customer:
            raise RateLimitedError(left)

    async def _count_failure(self, ref: CustomerRef) -> None:
        await self.store.hit(self._failure_key(ref), self.limits.failure_window_s, self._clock())

    # --- reads ---------------------------------------------------------------------------

    async def is_pending(self, customer: Customer, kind: ChangeKind) -> bool:
        """Whether a confirm could succeed now: our record, else the vendor's own flag."""
        flow = self.backends.get(customer.backend).change_flow(kind)
        if flow is ChangeFlow.DIRECT:
            return False
        key = pending_key(customer.backend, customer.native_id, kind.value)
        pending = await self.store.get_pending(key)
        if pending is not None:
            return pending.waiting(self._clock())
        return flow is ChangeFlow.BACKEND_OTP and customer.pending(kind)

    async def _read(self, connector: Connector, ref: CustomerRef, caller: Caller) -> Customer:
        if caller.is_admin:
            return await connector.get_customer(ref.native_id, ServiceCredentials())
        return await caller.me(ref.backend)

    async def _adopt_backend_pending(
        self, connector: Connector, ref: CustomerRef, kind: ChangeKind, caller: Caller
    ) -> PendingChange:
        """A change the vendor holds but we have no record of (requested elsewhere, or before a
        restart of a memory store): start counting wrong codes for it now."""
        customer = await self._read(connector, ref, caller)
        if not customer.pending(kind):
            raise OtpError("NO_PENDING_CHANGE", backend=ref.backend)
        expires_at = self._clock() + self.limits.ttl_s
        pending = PendingChange(ref.backend, ref.native_id, kind.value, "", expires_at)
        await self.store.put_pending(pending)
        return pending


def _same(current: str | None, wanted: str) -> bool:
    return current is not None and current.casefold() == wanted.casefold()


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
