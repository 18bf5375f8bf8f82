"""Email and phone-number changes behind a one-time code.

The connector says which flow applies (ChangeFlow): DIRECT writes at once; BACKEND_OTP lets the
vendor send and check the code while the gateway still counts wrong codes (defence in depth);
GATEWAY_OTP is run by GatewayOtpFlow. Input is validated before any upstream call, and sends and
wrong codes are rate-limited here for every flow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from customer_gateway.connectors.protocol import (
    Capability,
    ChangeFlow,
    Connector,
    Credentials,
    ServiceCredentials,
)
from customer_gateway.domain import (
    ChangeKind,
    ChangeResult,
    Customer,
    CustomerRef,
    GatewayError,
    InvalidInputError,
    OtpError,
    RateLimitedError,
    ValidationError,
)
from customer_gateway.observability.metrics import METRICS
from customer_gateway.otp.codes import CodeHasher
from customer_gateway.otp.notify import Notifier
from customer_gateway.otp.store import (
    PendingChange,
    Store,
    pending_key,
)
from customer_gateway.services.auth import Caller
from customer_gateway.services.backends import Backends
from customer_gateway.services.gateway_otp import ChangeLimits, GatewayOtpFlow, same
from customer_gateway.services.validation import normalise_email, normalise_phone_number

__all__ = ["ChangeLimits", "ChangeService"]

_CAPABILITY = {
    ChangeKind.EMAIL: Capability.CHANGE_EMAIL,
    ChangeKind.PHONE_NUMBER: Capability.CHANGE_PHONE_NUMBER,
}


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
        self.gateway = GatewayOtpFlow(store, hasher, notifier, self.limits, clock)

    # --- request -------------------------------------------------------------------------

    async def request(
        self, global_id: str, kind: ChangeKind, value: str, caller: Caller
    ) -> ChangeResult:
        backend = self._backend_label(global_id)
        try:
            result = await self._request(global_id, kind, value, caller)
        except (OtpError, RateLimitedError, ValidationError) as error:
            METRICS.otp_outcomes.labels(backend, kind.value, _outcome(error)).inc()
            raise
        METRICS.otp_outcomes.labels(
            backend, kind.value, "sent" if result.pending else "applied"
        ).inc()
        return result

    async def _request(
        self, global_id: str, kind: ChangeKind, value: str, caller: Caller
    ) -> ChangeResult:
        if kind is ChangeKind.EMAIL:
            value = normalise_email(value)
        else:
            value = normalise_phone_number(value)
        ref = self.backends.customer_ref(global_id)
        connector = self.backends.require(ref.backend, _CAPABILITY[kind])
        credentials = await caller.credentials_for(ref)
        flow = connector.change_flow(kind)
        key = pending_key(ref.backend, ref.native_id, kind.value)
        if flow is ChangeFlow.DIRECT:
            customer = await connector.change_credential(ref.native_id, kind, value, credentials)
            return ChangeResult(pending=False, customer=customer)
        await self._limit_sends(ref, caller)
        if flow is ChangeFlow.GATEWAY_OTP:
            current = await self._read(connector, ref, caller)
            return await self.gateway.start(ref, kind, value, current)
        customer = await connector.change_credential(ref.native_id, kind, value, credentials)
        if same(customer.credential(kind), value):  # the backend applied it without a code
            await self.store.delete_pending(key)
            return ChangeResult(pending=False, customer=customer)
        expires_at = self._clock() + self.limits.ttl_s
        await self.store.put_pending(
            PendingChange(ref.backend, ref.native_id, kind.value, value, expires_at)
        )
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
        backend = self._backend_label(global_id)
        try:
            customer = await self._confirm(global_id, kind, code, caller)
        except (OtpError, RateLimitedError, ValidationError) as error:
            METRICS.otp_outcomes.labels(backend, kind.value, _outcome(error)).inc()
            raise
        METRICS.otp_outcomes.labels(backend, kind.value, "confirmed").inc()
        return customer

    async def _confirm(
        self, global_id: str, kind: ChangeKind, code: str, caller: Caller
    ) -> Customer:
        ref = self.backends.customer_ref(global_id)
        connector = self.backends.require(ref.backend, _CAPABILITY[kind])
        credentials = await caller.credentials_for(ref)
        flow = connector.change_flow(kind)
        if flow is ChangeFlow.DIRECT:
            raise OtpError("NO_PENDING_CHANGE", backend=ref.backend)
        await self._check_failure_ceiling(ref)
        code = code.strip()
        if flow is ChangeFlow.GATEWAY_OTP:
            return await self.gateway.confirm(
                ref,
                kind,
                code,
                connector,
                credentials,
                read=lambda: self._read(connector, ref, caller),
                count_failure=lambda: self._count_failure(ref),
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

    def _failure_key(self, ref: CustomerRef) -> str:
        return f"otp-failures:{ref.backend}:{ref.native_id}"

    async def _check_failure_ceiling(self, ref: CustomerRef) -> None:
        """An account-level ceiling on wrong codes, across every pending change."""
        count, left = await self.store.window_count(self._failure_key(ref), self._clock())
        if count >= self.limits.failures_per_customer:
            raise RateLimitedError(left)

    async def _count_failure(self, ref: CustomerRef) -> None:
        await self.store.hit(self._failure_key(ref), self.limits.failure_window_s, self._clock())

    def _backend_label(self, global_id: str) -> str:
        """For metric labels only: a configured backend's name, else "unknown" (a label never
        carries what a client made up, or every made-up id would be a new series)."""
        try:
            return self.backends.customer_ref(global_id).backend
        except InvalidInputError:
            return "unknown"

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


def _outcome(error: GatewayError) -> str:
    return error.code.lower()


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
