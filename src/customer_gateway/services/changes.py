"""Email and phone-number changes behind a one-time code.

Which flow applies is the connector's call (ChangeFlow): DIRECT writes at once; BACKEND_OTP lets
the vendor send and check the code while the gateway still counts wrong attempts (defence in
depth); GATEWAY_OTP is run by the gateway itself. The input is validated before any upstream call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from customer_gateway.connectors.protocol import (
    Capability,
    ChangeFlow,
    Connector,
    ServiceCredentials,
)
from customer_gateway.domain import (
    ChangeKind,
    ChangeResult,
    Customer,
    CustomerRef,
    OtpError,
    UnsupportedError,
    decode_customer_id,
)
from customer_gateway.otp.store import PendingChange, Store, pending_key
from customer_gateway.services.auth import Caller
from customer_gateway.services.backends import Backends
from customer_gateway.services.validation import normalise_email, normalise_phone_number

__all__ = ["ChangeService"]

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
        ttl_s: float = 600.0,
        max_attempts: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backends = backends
        self.store = store
        self.ttl_s = ttl_s
        self.max_attempts = max_attempts
        self._clock = clock

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
        if flow is ChangeFlow.GATEWAY_OTP:
            raise UnsupportedError(backend=ref.backend)
        customer = await connector.change_credential(ref.native_id, kind, value, credentials)
        key = pending_key(ref.backend, ref.native_id, kind.value)
        if flow is ChangeFlow.DIRECT or _same(customer.credential(kind), value):
            await self.store.delete_pending(key)
            return ChangeResult(pending=False, customer=customer)
        expires_at = self._clock() + self.ttl_s
        await self.store.put_pending(
            PendingChange(ref.backend, ref.native_id, kind.value, value, expires_at)
        )
        return ChangeResult(True, customer, datetime.fromtimestamp(expires_at, UTC))

    async def confirm(
        self, global_id: str, kind: ChangeKind, code: str, caller: Caller
    ) -> Customer:
        ref = decode_customer_id(global_id)
        connector = self.backends.require(ref.backend, _CAPABILITY[kind])
        credentials = await caller.credentials_for(ref)
        if connector.change_flow(kind) is not ChangeFlow.BACKEND_OTP:
            raise OtpError("NO_PENDING_CHANGE", backend=ref.backend)
        key = pending_key(ref.backend, ref.native_id, kind.value)
        pending = await self.store.get_pending(key)
        if pending is None:
            pending = await self._adopt_backend_pending(connector, ref, kind, caller)
        if pending.cancelled:
            raise OtpError("NO_PENDING_CHANGE", backend=ref.backend)
        code = code.strip()
        try:
            if not (len(code) == 6 and code.isascii() and code.isdigit()):
                raise OtpError("OTP_INVALID", backend=ref.backend)
            customer = await connector.confirm_change(ref.native_id, kind, code, credentials)
        except OtpError as error:
            if error.code != "OTP_INVALID":
                raise
            if await self.store.record_failure(key) >= self.max_attempts:
                await self.store.cancel_pending(key)
                raise OtpError("OTP_ATTEMPTS_EXCEEDED", backend=ref.backend) from None
            raise
        await self.store.delete_pending(key)
        return customer

    async def is_pending(self, customer: Customer, kind: ChangeKind) -> bool:
        """Whether a confirm would find a live change: our record, else the vendor's flag."""
        connector = self.backends.get(customer.backend)
        flow = connector.change_flow(kind)
        if flow is ChangeFlow.DIRECT:
            return False
        pending = await self.store.get_pending(
            pending_key(customer.backend, customer.native_id, kind.value)
        )
        if pending is not None:
            return not pending.cancelled
        return flow is ChangeFlow.BACKEND_OTP and customer.pending(kind)

    async def _adopt_backend_pending(
        self, connector: Connector, ref: CustomerRef, kind: ChangeKind, caller: Caller
    ) -> PendingChange:
        """A change the vendor holds but we have no record of (requested elsewhere, or before a
        restart of a memory store): start counting attempts for it now."""
        if caller.is_admin:
            customer = await connector.get_customer(ref.native_id, ServiceCredentials())
        else:
            customer = await caller.me(ref.backend)
        if not customer.pending(kind):
            raise OtpError("NO_PENDING_CHANGE", backend=ref.backend)
        pending = PendingChange(
            ref.backend, ref.native_id, kind.value, "", self._clock() + self.ttl_s
        )
        await self.store.put_pending(pending)
        return pending


def _same(current: str | None, wanted: str) -> bool:
    return current is not None and current.casefold() == wanted.casefold()
