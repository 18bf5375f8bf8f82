"""Email and phone-number changes behind a one-time code.

The connector says which flow applies (ChangeFlow): DIRECT writes at once; BACKEND_OTP lets the
vendor send and check the code while the gateway still counts wrong codes (defence in depth);
GATEWAY_OTP is run by GatewayOtpFlow. Input is validated before any upstream call, sends are
rate-limited here for every flow, and every flow takes a code's attempt before the code is
checked (`attempts.py`). While the store is out, requests and confirms fail before any backend
write or code check, and `is_pending` falls back to what the backend itself says.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

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
    InvalidInputError,
    OtpError,
    RateLimitedError,
    StoreUnavailableError,
    UnsupportedError,
    ValidationError,
)
from customer_gateway.observability.metrics import METRICS
from customer_gateway.otp.codes import CodeHasher, looks_like_code
from customer_gateway.otp.notify import Notifier
from customer_gateway.otp.pending import ChangeState, PendingChange
from customer_gateway.services.auth import Caller
from customer_gateway.services.backends import Backends
from customer_gateway.services.changes.attempts import CodeAttempts
from customer_gateway.services.changes.gateway_flow import ChangeLimits, GatewayOtpFlow, same
from customer_gateway.services.validation import normalise_email, normalise_phone_number
from customer_gateway.store import Store, keys

__all__ = ["ChangeLimits", "ChangeService"]

T = TypeVar("T")

_CAPABILITY = {
    ChangeKind.EMAIL: Capability.CHANGE_EMAIL,
    ChangeKind.PHONE_NUMBER: Capability.CHANGE_PHONE_NUMBER,
}


@dataclass(eq=False)
class ChangeService:
    backends: Backends
    store: Store
    _: KW_ONLY
    hasher: CodeHasher
    notifier: Notifier
    limits: ChangeLimits = field(default_factory=ChangeLimits)
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def __post_init__(self) -> None:
        self.attempts = CodeAttempts(
            self.store,
            self.store,
            max_attempts=self.limits.max_attempts,
            failures_per_customer=self.limits.failures_per_customer,
            failure_window_s=self.limits.failure_window_s,
            clock=self.clock,
        )
        self.gateway = GatewayOtpFlow(
            self.store, self.attempts, self.hasher, self.notifier, self.limits, self.clock
        )

    # --- request -------------------------------------------------------------------------

    async def request(
        self, global_id: str, kind: ChangeKind, value: str, caller: Caller
    ) -> ChangeResult:
        backend = self._backend_label(global_id)
        return await _counted(
            backend,
            kind,
            self._request(global_id, kind, value, caller),
            lambda result: "sent" if result.pending else "applied",
        )

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
        key = keys.pending_change(ref.backend, ref.native_id, kind.value)
        await self._limit_changes(ref, caller)
        if flow is ChangeFlow.DIRECT:
            customer = await connector.change_credential(ref.native_id, kind, value, credentials)
            return ChangeResult(pending=False, customer=customer)
        if flow is ChangeFlow.GATEWAY_OTP:
            current = await self._read(connector, ref, caller)
            taken = await self._held_by_another(connector, ref, kind, value)
            return await self.gateway.start(ref, kind, value, current, send=not taken)
        customer = await connector.change_credential(ref.native_id, kind, value, credentials)
        if same(customer.credential(kind), value):  # the backend applied it without a code
            await self.store.delete_pending(key)
            return ChangeResult(pending=False, customer=customer)
        expires_at = self.clock() + self.limits.ttl_s
        await self.store.put_pending(
            key, PendingChange(ref.backend, ref.native_id, kind.value, value, expires_at)
        )
        return ChangeResult(True, customer, _utc(expires_at))

    async def _limit_changes(self, ref: CustomerRef, caller: Caller) -> None:
        """At most N changes (a code sent, or a change applied at once) per customer per window,
        and per client address: codes cost money and reach people, and a change without a code
        is no less a change."""
        now = self.clock()
        limits = self.limits
        count, left = await self.store.hit(
            keys.otp_sends(ref.backend, ref.native_id), limits.send_window_s, now
        )
        if count > limits.sends_per_customer:
            raise RateLimitedError(left)
        if caller.client_address:
            count, left = await self.store.hit(
                keys.otp_sends_from(caller.client_address), limits.address_window_s, now
            )
            if count > limits.sends_per_address:
                raise RateLimitedError(left)

    @staticmethod
    async def _held_by_another(
        connector: Connector, ref: CustomerRef, kind: ChangeKind, value: str
    ) -> bool:
        """Whether another account of this backend already holds the address (or number).

        A code is never sent to it: its owner did not ask for one. The request answers as for a
        free address all the same, so it tells nobody whether an address has an account; the
        change then waits for a code nobody received, and a confirm fails as a wrong code does.
        A backend that cannot look the value up gets the code sent, as before.
        """
        try:
            found = await connector.find_by_credentials(kind, [value])
        except UnsupportedError:
            return False
        holder = found.get(value)
        return holder is not None and holder.native_id != ref.native_id

    # --- confirm -------------------------------------------------------------------------

    async def confirm(
        self, global_id: str, kind: ChangeKind, code: str, caller: Caller
    ) -> Customer:
        backend = self._backend_label(global_id)
        return await _counted(
            backend, kind, self._confirm(global_id, kind, code, caller), lambda _: "confirmed"
        )

    async def _confirm(
        self, global_id: str, kind: ChangeKind, code: str, caller: Caller
    ) -> Customer:
        ref = self.backends.customer_ref(global_id)
        connector = self.backends.require(ref.backend, _CAPABILITY[kind])
        credentials = await caller.credentials_for(ref)
        flow = connector.change_flow(kind)
        if flow is ChangeFlow.DIRECT:
            raise OtpError("NO_PENDING_CHANGE", backend=ref.backend)
        code = code.strip()
        if flow is ChangeFlow.GATEWAY_OTP:
            return await self.gateway.confirm(
                ref,
                kind,
                code,
                connector,
                credentials,
                read=lambda: self._read(connector, ref, caller),
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
        key = keys.pending_change(ref.backend, ref.native_id, kind.value)
        pending = await self.store.get_pending(key)
        if pending is None:
            pending = await self._adopt_backend_pending(connector, ref, kind, caller)
        if not pending.live:
            raise OtpError("NO_PENDING_CHANGE", backend=ref.backend)
        if not pending.waiting(self.clock()):
            await self.store.delete_pending(key)
            raise OtpError("OTP_EXPIRED", backend=ref.backend)
        attempt = await self.attempts.reserve(ref, key, pending)  # before the vendor sees it
        try:
            if not looks_like_code(code):
                raise OtpError("OTP_INVALID", backend=ref.backend)
            customer = await connector.confirm_change(ref.native_id, kind, code, credentials)
        except OtpError as error:
            if error.code != "OTP_INVALID":
                await self.attempts.refund(attempt)
                raise
            raise await self.attempts.wrong(attempt, ref, key, pending) from None
        except BaseException:
            await self.attempts.refund(attempt)
            raise
        await self.attempts.refund(attempt)
        await self.store.delete_pending(key)
        return customer

    def _backend_label(self, global_id: str) -> str:
        """For metric labels only: a configured backend's name, else "unknown" (a label never
        carries what a client made up, or every made-up id would be a new series)."""
        try:
            return self.backends.customer_ref(global_id).backend
        except InvalidInputError:
            return "unknown"

    # --- reads ---------------------------------------------------------------------------

    async def is_pending(self, customer: Customer, kind: ChangeKind) -> bool:
        """What the store holds: a change a confirm could still finish, else the vendor's own
        flag. A write left in flight that the customer already shows is finished here, so a
        confirm that died (or lost its store) leaves nothing stuck. While the store is out,
        the vendor's flag alone answers."""
        flow = self.backends.get(customer.backend).change_flow(kind)
        if flow is ChangeFlow.DIRECT:
            return False
        vendor_says = flow is ChangeFlow.BACKEND_OTP and customer.pending(kind)
        key = keys.pending_change(customer.backend, customer.native_id, kind.value)
        try:
            pending = await self.store.get_pending(key)
            if pending is None:
                return vendor_says
            if pending.in_flight and same(customer.credential(kind), pending.value):
                await self.store.settle(key, pending.id, ChangeState.DONE)
                return False
        except StoreUnavailableError:
            return vendor_says
        return pending.waiting(self.clock())

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
        expires_at = self.clock() + self.limits.ttl_s
        pending = PendingChange(ref.backend, ref.native_id, kind.value, "", expires_at)
        key = keys.pending_change(ref.backend, ref.native_id, kind.value)
        await self.store.put_pending(key, pending)
        return pending


async def _counted(
    backend: str, kind: ChangeKind, outcome: Awaitable[T], succeeded: Callable[[T], str]
) -> T:
    """A request or confirmation counted by how it ended: the expected refusals by their code,
    a success by what it did. Other errors are not outcomes of the flow, so are not counted."""
    try:
        result = await outcome
    except (OtpError, RateLimitedError, ValidationError) as error:
        METRICS.otp_outcomes.labels(backend, kind.value, error.code.lower()).inc()
        raise
    METRICS.otp_outcomes.labels(backend, kind.value, succeeded(result)).inc()
    return result


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
