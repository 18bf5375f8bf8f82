"""Per-request data loaders: each backend is asked once per request, however many fields need it."""

from __future__ import annotations

import asyncio
from typing import cast

from aiodataloader import DataLoader

from customer_gateway.domain import AuthenticationError, Customer
from customer_gateway.services import Backends

__all__ = ["Loaders"]


class Loaders:
    def __init__(self, backends: Backends, bearer: str | None) -> None:
        self._backends = backends
        self._bearer = bearer
        self.identity: DataLoader[str, Customer] = DataLoader(self._identities)

    async def _identities(self, backend_names: list[str]) -> list[Customer]:
        """The bearer token's customer on each backend (the token is only valid on one).

        Failures are returned in place, as aiodataloader expects, so one backend's error
        rejects only the fields that asked for it.
        """

        async def one(name: str) -> Customer:
            if not self._bearer:
                raise AuthenticationError()
            return await self._backends.get(name).current_customer(self._bearer)

        results = await asyncio.gather(*(one(n) for n in backend_names), return_exceptions=True)
        return cast("list[Customer]", results)
