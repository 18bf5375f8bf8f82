"""Loyalty linking: a commerce customer's points and level from the linked loyalty backend.

A link matches on the credential the commerce backend verified for its customer (its sign-in
identifier: email for Menu email-auth brands and Kibo, phone number for Menu phone-auth brands),
and never on one the gateway lets change without a code: such a credential proves nothing, and
matching on it would show another member's points and level to whoever typed their address in.
Accounts are looked up with the loyalty backend's service credentials, and only for customers
the commerce backend has already returned to this caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from customer_gateway.connectors.protocol import Capability, ChangeFlow, Connector
from customer_gateway.domain import ChangeKind, Customer, LoyaltyStatus, ValidationError
from customer_gateway.services.backends import Backends
from customer_gateway.services.validation import normalise_email, normalise_phone_number

__all__ = ["LinkKey", "LoyaltyService"]


@dataclass(frozen=True, slots=True)
class LinkKey:
    """Where to look for a commerce customer's loyalty account, and by which credential."""

    backend: str
    kind: ChangeKind
    value: str  # normalised: casefolded email, or E.164 phone number


def _normalised(kind: ChangeKind, value: str) -> str | None:
    try:
        if kind is ChangeKind.EMAIL:
            return normalise_email(value).casefold()
        return normalise_phone_number(value)
    except ValidationError:
        return None


class LoyaltyService:
    def __init__(self, backends: Backends) -> None:
        self.backends = backends

    def loyalty_backend_for(self, customer: Customer) -> str | None:
        """The backend holding this customer's points: itself, its linked one, or none."""
        connector = self.backends.get(customer.backend)
        if Capability.LOYALTY in connector.capabilities:
            return connector.name
        return connector.loyalty_backend

    def is_loyalty_backend(self, name: str) -> bool:
        return Capability.LOYALTY in self.backends.get(name).capabilities

    def link_key(self, customer: Customer) -> LinkKey | None:
        """How a commerce customer is found on its linked loyalty backend, if it can be."""
        connector = self.backends.get(customer.backend)
        kind = connector.verified_credential
        linked = connector.loyalty_backend
        if linked is None or kind is None or connector.change_flow(kind) is ChangeFlow.DIRECT:
            return None
        raw = customer.credential(kind)
        value = _normalised(kind, raw) if raw else None
        return LinkKey(linked, kind, value) if value else None

    def _loyalty(self, name: str) -> Connector:
        return self.backends.require(name, Capability.LOYALTY)

    async def accounts(
        self, backend: str, kind: ChangeKind, values: Sequence[str]
    ) -> dict[str, Customer]:
        """Loyalty accounts whose credential equals one of `values` (normalised), by value."""
        found = await self._loyalty(backend).find_by_credentials(kind, list(values))
        accounts: dict[str, Customer] = {}
        for value, customer in found.items():
            key = _normalised(kind, value)
            own = customer.credential(kind)
            if key is not None and own is not None and _normalised(kind, own) == key:
                accounts[key] = customer
        return accounts

    async def status(self, backend: str, native_id: str) -> LoyaltyStatus | None:
        return await self._loyalty(backend).loyalty_status(native_id)

    async def own_status(self, backend: str, access_token: str) -> LoyaltyStatus | None:
        """The token's own status on a loyalty backend; UnsupportedError where it has no
        customer-scope read (then the status waits for the profile's id)."""
        return await self._loyalty(backend).own_loyalty_status(access_token)
