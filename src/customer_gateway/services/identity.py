"""Who a request's bearer token belongs to: the backend's own current-customer call.

Ownership is the gateway's job: before it reads or writes a customer by id with a customer
token, it asks the backend whose token it is, once per backend per request however many fields
need to know, and refuses any other id itself.
"""

from __future__ import annotations

from functools import partial
from typing import cast

from customer_gateway.concurrency import gather
from customer_gateway.connectors.protocol import Capability
from customer_gateway.domain import AuthenticationError, Customer
from customer_gateway.services.backends import Backends
from customer_gateway.services.batching import Batches

__all__ = ["Identity"]


class Identity:
    """One request's bearer token, and the customer it belongs to on each backend asked."""

    def __init__(self, backends: Backends, bearer: str | None, batches: Batches) -> None:
        self.bearer = bearer
        self._backends = backends
        self._customers = batches(partial(_current_customers, backends, bearer))

    async def me(self, backend: str) -> Customer:
        """The token's customer on `backend`: UNAUTHENTICATED without a token it accepts."""
        self._backends.require(backend, Capability.CURRENT_CUSTOMER)
        if not self.bearer:
            raise AuthenticationError()
        return await self._customers.load(backend)


async def _current_customers(
    backends: Backends, bearer: str | None, names: list[str]
) -> list[Customer]:
    """The token's customer on each backend (a token is valid on one); a failure is returned in
    place, so one backend's error fails only the fields that asked it."""

    async def one(name: str) -> Customer:
        if not bearer:
            raise AuthenticationError()
        return await backends.get(name).current_customer(bearer)

    results = await gather([one(name) for name in names], return_exceptions=True)
    return cast("list[Customer]", results)
