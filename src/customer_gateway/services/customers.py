"""Customer use cases: sign-in, refresh, reads, profile updates and admin listings."""

from __future__ import annotations

from customer_gateway.connectors.protocol import Capability, Connector, ServiceCredentials
from customer_gateway.domain import (
    AuthResult,
    Customer,
    CustomerFilter,
    CustomerPage,
    CustomerUpdate,
    FieldProblem,
    InvalidInputError,
    InvalidTokenError,
    Level,
    ValidationError,
    decode_customer_id,
)
from customer_gateway.services.auth import Caller
from customer_gateway.services.backends import Backends
from customer_gateway.services.singleflight import SingleFlight

__all__ = ["MAX_PAGE_SIZE", "CustomerService"]

MAX_PAGE_SIZE = 100


class CustomerService:
    def __init__(self, backends: Backends) -> None:
        self.backends = backends
        self._refreshes: SingleFlight[AuthResult] = SingleFlight()

    async def sign_in(self, backend: str, username: str, password: str) -> AuthResult:
        return await self.backends.require(backend, Capability.SIGN_IN).sign_in(username, password)

    async def refresh(self, backend: str, refresh_token: str | None, caller: Caller) -> AuthResult:
        """Refresh with the given refresh token, or the bearer token where the vendor uses that.

        Concurrent refreshes with the same token share one upstream call: vendors that rotate
        refresh tokens would otherwise log the customer out on a race.
        """
        connector = self.backends.require(backend, Capability.REFRESH_TOKEN)
        token = refresh_token or caller.bearer
        if not token:
            raise InvalidTokenError(field=("refreshToken",), backend=backend)
        return await self._refreshes.run((backend, token), lambda: connector.refresh_token(token))

    async def me(self, backend: str, caller: Caller) -> Customer:
        self.backends.require(backend, Capability.CURRENT_CUSTOMER)
        return await caller.me(backend)

    async def customer(self, global_id: str, caller: Caller) -> Customer:
        ref = decode_customer_id(global_id)
        connector = self.backends.get(ref.backend)
        if not caller.is_admin:
            await caller.credentials_for(ref)  # refuses anyone else's id, with no upstream call
            return await caller.me(ref.backend)
        self.backends.require(ref.backend, Capability.CUSTOMER_BY_ID)
        return await connector.get_customer(ref.native_id, ServiceCredentials())

    async def customers(
        self,
        backend: str,
        customer_filter: CustomerFilter,
        offset: int,
        limit: int,
        caller: Caller,
    ) -> CustomerPage:
        caller.require_admin()
        if not 0 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"`first` must be between 0 and {MAX_PAGE_SIZE}.")
        connector = self.backends.require(backend, Capability.LIST_CUSTOMERS)
        return await connector.list_customers(customer_filter, offset, limit)

    async def update(self, global_id: str, update: CustomerUpdate, caller: Caller) -> Customer:
        ref = decode_customer_id(global_id)
        connector = self.backends.require(ref.backend, Capability.UPDATE_CUSTOMER)
        unsupported = [name for name in update.changed() if name not in connector.update_fields]
        if unsupported:
            raise ValidationError(
                [
                    FieldProblem((name,), "This backend cannot change this field.", "UNSUPPORTED")
                    for name in unsupported
                ]
            )
        credentials = await caller.credentials_for(ref)
        if not update.changed():
            return await self._current(connector, ref.native_id, caller)
        return await connector.update_customer(ref.native_id, update, credentials)

    async def set_active(self, global_id: str, active: bool, caller: Caller) -> Customer:
        caller.require_admin()
        ref = decode_customer_id(global_id)
        connector = self.backends.require(ref.backend, Capability.ACTIVATION)
        return await connector.set_active(ref.native_id, active)

    async def assign_level(self, global_id: str, level_id: str, caller: Caller) -> Customer:
        caller.require_admin()
        ref = decode_customer_id(global_id)
        connector = self.backends.require(ref.backend, Capability.ASSIGN_LEVEL)
        return await connector.assign_level(ref.native_id, level_id)

    async def levels(self, backend: str) -> list[Level]:
        return await self.backends.require(backend, Capability.LEVELS).levels()

    async def _current(self, connector: Connector, native_id: str, caller: Caller) -> Customer:
        if caller.is_admin:
            return await connector.get_customer(native_id, ServiceCredentials())
        return await caller.me(connector.name)
