"""Loyalty linking: a commerce customer's points and level from the linked loyalty backend.

Matching is by email, with the loyalty backend's service credentials, and only for a customer the
commerce backend has already returned to this caller. The batch functions take many customers
at once, so a page of 50 customers costs a bounded number of loyalty calls.
"""

from __future__ import annotations

from collections.abc import Sequence

from customer_gateway.connectors.protocol import Capability, Connector
from customer_gateway.domain import Customer, LoyaltyStatus
from customer_gateway.services.backends import Backends

__all__ = ["LoyaltyService"]


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

    def _loyalty(self, name: str) -> Connector:
        return self.backends.require(name, Capability.LOYALTY)

    async def accounts_by_email(self, backend: str, emails: Sequence[str]) -> dict[str, Customer]:
        """Loyalty accounts keyed by the casefolded email they were asked for."""
        found = await self._loyalty(backend).find_by_emails(list(emails))
        return {email.casefold(): customer for email, customer in found.items()}

    async def status(self, backend: str, native_id: str) -> LoyaltyStatus | None:
        return await self._loyalty(backend).loyalty_status(native_id)

    async def own_status(self, backend: str, access_token: str) -> LoyaltyStatus | None:
        """The token's own status on a loyalty backend; UnsupportedError where it has no
        customer-scope read (then the status waits for the profile's id)."""
        return await self._loyalty(backend).own_loyalty_status(access_token)
