"""Who is calling: a backend's customer token, the gateway's admin key, or nobody.

Ownership is the gateway's job: before touching a customer by id with a customer token, the
gateway asks the backend whose token it is (once per request) and refuses any other id itself.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from customer_gateway.connectors.protocol import (
    Credentials,
    CustomerCredentials,
    ServiceCredentials,
)
from customer_gateway.domain import Customer, CustomerRef, PermissionDeniedError
from customer_gateway.services.identity import Identity

__all__ = ["Caller", "admin_key_matches"]


def admin_key_matches(candidate: str | None, keys: Sequence[str]) -> bool:
    """Constant-time over every configured key, whatever the candidate's length or prefix."""
    if not candidate:
        return False
    given = candidate.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given, key.encode())
    return matched


class Caller:
    """One request's caller: a backend's customer token (whose owner `identity` asks the backend
    for), the gateway's admin key, or nobody; and the client's address, for rate limits."""

    def __init__(
        self,
        *,
        identity: Identity,
        is_admin: bool,
        client_address: str | None = None,
    ) -> None:
        self.identity = identity
        self.is_admin = is_admin
        self.client_address = client_address

    @property
    def bearer(self) -> str | None:
        return self.identity.bearer

    def require_admin(self) -> None:
        if not self.is_admin:
            raise PermissionDeniedError("This operation needs the admin key.")

    async def me(self, backend: str) -> Customer:
        return await self.identity.me(backend)

    async def credentials_for(self, ref: CustomerRef) -> Credentials:
        """Credentials to act on `ref`: the service account for admins, else the owner's token."""
        if self.is_admin:
            return ServiceCredentials()
        me = await self.me(ref.backend)
        if me.native_id != ref.native_id:
            raise PermissionDeniedError()
        return CustomerCredentials(self.bearer or "")
