"""One request's reads of customers: its own customer, customers by id, an admin's pages, each
with the loyalty statuses that what the client shows needs.

The rules live here, not in the GraphQL layer: who the token is (`Identity`), which ids it may
read (`CustomerService.customers_by_ids`), which statuses a page needs and how they are linked
(`LinkedStatuses`), and what starts early because nothing it needs is missing. The per-request
batch loaders come in as a port (`Batches`), so many fields asking the same thing make one call.
"""

from __future__ import annotations

from functools import partial
from typing import cast

from customer_gateway.concurrency import gather
from customer_gateway.domain import (
    Customer,
    CustomerFilter,
    CustomerPage,
    GatewayError,
    LoyaltyStatus,
    UnsupportedError,
)
from customer_gateway.services.auth import Caller
from customer_gateway.services.batching import Batches
from customer_gateway.services.customers import CustomerService
from customer_gateway.services.loyalty import LinkedStatuses, LoyaltyService, Shown, StatusRead

__all__ = ["CustomerReads"]


class CustomerReads:
    def __init__(
        self,
        customers: CustomerService,
        loyalty: LoyaltyService,
        caller: Caller,
        batches: Batches,
    ) -> None:
        self.caller = caller
        self._customers = customers
        self._loyalty = loyalty
        self._by_id = batches(partial(_customers_by_ids, customers, caller))
        self.statuses = LinkedStatuses(loyalty, batches)

    async def me(self, backend: str, shown: Shown) -> tuple[Customer, StatusRead | None]:
        """The token's own customer. On a loyalty backend its status is read with the token
        itself, alongside the profile rather than after it."""
        own = None
        if shown.loyalty and self.caller.bearer and self._is_loyalty_backend(backend):
            own = self.statuses.own_status(backend, self.caller.bearer)
        try:
            customer = await self.caller.me(backend)
        except BaseException:
            if own is not None:
                own.cancel()
            raise
        if own is not None:
            (status,) = await gather([own], return_exceptions=True)
            if not isinstance(status, UnsupportedError):  # else: read by id, as for any other
                return customer, StatusRead(status)
        (read,) = await self.statuses.for_shown([customer], shown)
        return customer, read

    async def customer(self, global_id: str, shown: Shown) -> tuple[Customer, StatusRead | None]:
        """A customer by id: the caller's own with a customer token, any with the admin key
        (then a loyalty customer's status starts alongside its profile)."""
        if shown.loyalty and self.caller.is_admin:
            ref = self._customers.backends.customer_ref(global_id)
            if self._is_loyalty_backend(ref.backend):
                self.statuses.start(ref.backend, ref.native_id)
        customer = await self.entity(global_id)
        (read,) = await self.statuses.for_shown([customer], shown)
        return customer, read

    async def entity(self, global_id: str) -> Customer:
        """A customer by id, batched with every other id of the request (federation's
        `_entities`), under the same rules as `customer`."""
        return await self._by_id.load(global_id)

    async def page(
        self,
        backend: str,
        customer_filter: CustomerFilter,
        offset: int,
        limit: int,
        shown: Shown,
    ) -> tuple[CustomerPage, list[StatusRead | None]]:
        """An admin's page of customers, and the statuses it shows, in one batch."""
        page = await self._customers.customers(backend, customer_filter, offset, limit, self.caller)
        return page, await self.statuses.for_shown(page.customers, shown)

    async def status_of(self, customer: Customer) -> LoyaltyStatus | None:
        """A status nobody read ahead (a mutation's payload, an entity): read now, batched."""
        return await self.statuses.of(customer)

    def _is_loyalty_backend(self, backend: str) -> bool:
        try:
            return self._loyalty.is_loyalty_backend(backend)
        except GatewayError:
            return False  # an unknown backend: the read itself words the refusal


async def _customers_by_ids(
    customers: CustomerService, caller: Caller, global_ids: list[str]
) -> list[Customer]:
    results = await customers.customers_by_ids(global_ids, caller=caller)
    return cast("list[Customer]", results)  # errors are returned in place
