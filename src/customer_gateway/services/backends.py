"""The configured backends by name: the one place an unknown backend name, or a customer id of
the wrong shape for its backend, is refused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping

from customer_gateway.connectors.protocol import Capability, Connector
from customer_gateway.domain import (
    CustomerRef,
    InvalidInputError,
    UnsupportedError,
    decode_customer_id,
)

__all__ = ["Backends"]


class Backends:
    def __init__(self, connectors: Mapping[str, Connector]) -> None:
        self._connectors = dict(connectors)

    def __iter__(self) -> Iterator[Connector]:
        return iter(self._connectors.values())

    def get(self, name: str) -> Connector:
        try:
            return self._connectors[name]
        except KeyError:
            raise InvalidInputError("Unknown backend.") from None

    def customer_ref(self, global_id: str) -> CustomerRef:
        """The backend and native id in a global id, both checked: an id that cannot be one of
        that vendor's customers is BAD_USER_INPUT before anything is called."""
        ref = decode_customer_id(global_id)
        if not self.get(ref.backend).customer_id_shape.matches(ref.native_id):
            raise InvalidInputError("Not a customer id.")
        return ref

    def require(self, name: str, capability: Capability) -> Connector:
        connector = self.get(name)
        if capability not in connector.capabilities:
            raise UnsupportedError(backend=name)
        return connector

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self._connectors.values()))
