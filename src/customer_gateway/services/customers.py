"""Customer use cases: sign-in, refresh, reads, profile updates and admin listings."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import fields

from customer_gateway.concurrency import gather
from customer_gateway.connectors.protocol import Capability, Connector, ServiceCredentials
from customer_gateway.domain import (
    AuthResult,
    Customer,
    CustomerFilter,
    CustomerPage,
    CustomerUpdate,
    FieldProblem,
    GatewayError,
    InvalidInputError,
    InvalidTokenError,
    Level,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from customer_gateway.services.auth import Caller
from customer_gateway.services.backends import Backends
from customer_gateway.services.singleflight import SingleFlight

__all__ = ["MAX_PAGE_SIZE", "CustomerService"]

MAX_PAGE_SIZE = 100
MAX_FILTER_CHARS = 256  # a name or an address, not a document
_TOKEN = re.compile(r"[\x21-\x7e]{1,8192}")  # what any vendor's token looks like


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
        if not token or _TOKEN.fullmatch(token) is None:
            raise InvalidTokenError(field=("refreshToken",), backend=backend)
        return await self._refreshes.run((backend, token), lambda: connector.refresh_token(token))

    async def customers_by_ids(
        self, global_ids: Sequence[str], *, caller: Caller
    ) -> list[Customer | GatewayError]:
        """Many ids at once (federation `_entities`): one batch per backend, each id answered
        with its customer or its own error, under the same rules as `customer(id)`."""
        results: dict[str, Customer | GatewayError] = {}
        wanted: dict[str, dict[str, str]] = {}  # backend -> global id -> native id
        for global_id in dict.fromkeys(global_ids):
            try:
                ref = self.backends.customer_ref(global_id)
            except GatewayError as error:
                results[global_id] = error
                continue
            wanted.setdefault(ref.backend, {})[global_id] = ref.native_id

        async def one_backend(backend: str, ids: dict[str, str]) -> None:
            try:
                found = await self._batch(backend, list(ids.values()), caller)
            except GatewayError as error:
                results.update(dict.fromkeys(ids, error))
                return
            for global_id, native_id in ids.items():
                results[global_id] = found.get(native_id) or self._missing(caller)

        await gather([one_backend(b, ids) for b, ids in wanted.items()])
        return [results[global_id] for global_id in global_ids]

    async def _batch(
        self, backend: str, native_ids: list[str], caller: Caller
    ) -> dict[str, Customer]:
        if caller.is_admin:
            connector = self.backends.require(backend, Capability.CUSTOMER_BY_ID)
            return await connector.get_customers(native_ids, ServiceCredentials())
        me = await caller.me(backend)  # a customer token reaches its own customer only
        return {me.native_id: me} if me.native_id in native_ids else {}

    @staticmethod
    def _missing(caller: Caller) -> GatewayError:
        return NotFoundError() if caller.is_admin else PermissionDeniedError()

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
        values = (getattr(customer_filter, f.name) for f in fields(customer_filter))
        if any(value is not None and len(value) > MAX_FILTER_CHARS for value in values):
            raise InvalidInputError(f"A filter value is at most {MAX_FILTER_CHARS} characters.")
        connector = self.backends.require(backend, Capability.LIST_CUSTOMERS)
        return await connector.list_customers(customer_filter, offset, limit)

    async def update(self, global_id: str, update: CustomerUpdate, caller: Caller) -> Customer:
        ref = self.backends.customer_ref(global_id)
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
        ref = self.backends.customer_ref(global_id)
        connector = self.backends.require(ref.backend, Capability.ACTIVATION)
        return await connector.set_active(ref.native_id, active)

    async def assign_level(self, global_id: str, level_id: str, caller: Caller) -> Customer:
        caller.require_admin()
        ref = self.backends.customer_ref(global_id)
        connector = self.backends.require(ref.backend, Capability.ASSIGN_LEVEL)
        return await connector.assign_level(ref.native_id, level_id)

    async def levels(self, backend: str) -> list[Level]:
        return await self.backends.require(backend, Capability.LEVELS).levels()

    async def _current(self, connector: Connector, native_id: str, caller: Caller) -> Customer:
        if caller.is_admin:
            return await connector.get_customer(native_id, ServiceCredentials())
        return await caller.me(connector.name)
