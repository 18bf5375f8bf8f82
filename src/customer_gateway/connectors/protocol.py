"""What a backend connector is: declared capabilities plus async operations on domain models.

A connector speaks its vendor's HTTP API and returns domain objects; it knows nothing of GraphQL.
Operations a vendor lacks raise UnsupportedError (UnsupportedOperations gives that default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from customer_gateway.concurrency import gather_bounded
from customer_gateway.connectors.routes import IdShape
from customer_gateway.connectors.transport import Transport
from customer_gateway.domain import (
    AuthResult,
    ChangeKind,
    Customer,
    CustomerFilter,
    CustomerPage,
    CustomerUpdate,
    Level,
    LoyaltyStatus,
    NotFoundError,
    UnsupportedError,
)

__all__ = [
    "Capability",
    "ChangeFlow",
    "Connector",
    "ConnectorFactory",
    "Credentials",
    "CustomerCredentials",
    "ServiceCredentials",
    "UnsupportedOperations",
]


class Capability(StrEnum):
    SIGN_IN = "signIn"
    REFRESH_TOKEN = "refreshToken"
    CURRENT_CUSTOMER = "me"
    CUSTOMER_BY_ID = "customer"
    UPDATE_CUSTOMER = "updateCustomer"
    CHANGE_EMAIL = "changeEmail"
    CHANGE_PHONE_NUMBER = "changePhoneNumber"
    LIST_CUSTOMERS = "customers"
    LEVELS = "levels"
    LOYALTY = "loyalty"
    ACTIVATION = "activation"
    ASSIGN_LEVEL = "assignLevel"


class ChangeFlow(StrEnum):
    """Who confirms a credential change: nobody, the vendor's own OTP flow, or the gateway."""

    DIRECT = "direct"
    BACKEND_OTP = "backend_otp"
    GATEWAY_OTP = "gateway_otp"


@dataclass(frozen=True, slots=True)
class CustomerCredentials:
    """The customer's own token for this backend, passed upstream unchanged."""

    access_token: str

    def __repr__(self) -> str:
        return "CustomerCredentials(<redacted>)"


@dataclass(frozen=True, slots=True)
class ServiceCredentials:
    """Act with the backend's configured service account (only after the admin key was checked)."""


Credentials = CustomerCredentials | ServiceCredentials


@runtime_checkable
class Connector(Protocol):
    name: str
    kind: str
    capabilities: frozenset[Capability]
    update_fields: frozenset[str]
    loyalty_backend: str | None
    customer_id_shape: IdShape  # what this vendor's customer ids look like
    # The credential the backend verified for its customers (their sign-in identifier): the
    # only one loyalty linking may match on. None: this backend's customers are never linked.
    verified_credential: ChangeKind | None

    def change_flow(self, kind: ChangeKind) -> ChangeFlow: ...

    def is_healthy(self) -> bool:
        """False while the backend's circuit breaker keeps calls away from it."""
        ...

    async def sign_in(self, username: str, password: str) -> AuthResult: ...

    async def refresh_token(self, refresh_token: str) -> AuthResult: ...

    async def current_customer(self, access_token: str) -> Customer: ...

    async def get_customer(self, native_id: str, credentials: Credentials) -> Customer: ...

    async def get_customers(
        self, native_ids: Sequence[str], credentials: Credentials
    ) -> dict[str, Customer]:
        """Many customers at once (federation entities); unknown ids are left out."""
        ...

    async def update_customer(
        self, native_id: str, update: CustomerUpdate, credentials: Credentials
    ) -> Customer: ...

    async def change_credential(
        self, native_id: str, kind: ChangeKind, value: str, credentials: Credentials
    ) -> Customer:
        """Send a new email or phone the way the backend takes it (it may only start its OTP)."""
        ...

    async def confirm_change(
        self, native_id: str, kind: ChangeKind, code: str, credentials: Credentials
    ) -> Customer:
        """Finish a backend-run OTP flow (ChangeFlow.BACKEND_OTP) with the customer's code."""
        ...

    async def list_customers(
        self, customer_filter: CustomerFilter, offset: int, limit: int
    ) -> CustomerPage: ...

    async def levels(self) -> list[Level]: ...

    async def loyalty_status(self, native_id: str) -> LoyaltyStatus | None: ...

    async def own_loyalty_status(self, access_token: str) -> LoyaltyStatus | None:
        """The status of the customer the token belongs to, read with that token (optional:
        UnsupportedError sends the gateway to `loyalty_status` once it knows the id)."""
        ...

    async def find_by_credentials(
        self, kind: ChangeKind, values: Sequence[str]
    ) -> dict[str, Customer]:
        """Exact matches by email or phone number (service scope), keyed by the value asked for;
        values nobody holds are left out."""
        ...

    async def set_active(self, native_id: str, active: bool) -> Customer: ...

    async def assign_level(self, native_id: str, level_id: str) -> Customer: ...

    async def aclose(self) -> None: ...


class ConnectorFactory(Protocol):
    """What the `customer_gateway.connectors` entry points name: a kind plus its settings model."""

    kind: ClassVar[str]
    settings_model: ClassVar[type[BaseModel]]

    @classmethod
    def from_settings(cls, name: str, settings: BaseModel) -> Connector: ...


class UnsupportedOperations:
    """Default bodies for operations a vendor does not have; for a connector that talks to its
    backend through one `transport`, its health and its closing as well."""

    name: str
    transport: Transport | None = None
    verified_credential: ChangeKind | None = None

    def is_healthy(self) -> bool:
        return self.transport is None or self.transport.breaker.healthy

    async def aclose(self) -> None:
        if self.transport is not None:
            await self.transport.aclose()

    def _unsupported(self) -> UnsupportedError:
        return UnsupportedError(backend=self.name)

    async def sign_in(self, username: str, password: str) -> AuthResult:
        raise self._unsupported()

    async def refresh_token(self, refresh_token: str) -> AuthResult:
        raise self._unsupported()

    async def current_customer(self, access_token: str) -> Customer:
        raise self._unsupported()

    async def get_customer(self, native_id: str, credentials: Credentials) -> Customer:
        raise self._unsupported()

    async def get_customers(
        self, native_ids: Sequence[str], credentials: Credentials
    ) -> dict[str, Customer]:
        """Concurrent single reads, for vendors without a batch read; at most 10 at a time."""

        async def one(native_id: str) -> tuple[str, Customer | None]:
            try:
                return native_id, await self.get_customer(native_id, credentials)
            except NotFoundError:
                return native_id, None

        calls = [partial(one, native_id) for native_id in dict.fromkeys(native_ids)]
        found = await gather_bounded(calls, limit=10)
        return {native_id: customer for native_id, customer in found if customer is not None}

    async def update_customer(
        self, native_id: str, update: CustomerUpdate, credentials: Credentials
    ) -> Customer:
        raise self._unsupported()

    async def change_credential(
        self, native_id: str, kind: ChangeKind, value: str, credentials: Credentials
    ) -> Customer:
        raise self._unsupported()

    async def confirm_change(
        self, native_id: str, kind: ChangeKind, code: str, credentials: Credentials
    ) -> Customer:
        raise self._unsupported()

    async def list_customers(
        self, customer_filter: CustomerFilter, offset: int, limit: int
    ) -> CustomerPage:
        raise self._unsupported()

    async def levels(self) -> list[Level]:
        raise self._unsupported()

    async def loyalty_status(self, native_id: str) -> LoyaltyStatus | None:
        raise self._unsupported()

    async def own_loyalty_status(self, access_token: str) -> LoyaltyStatus | None:
        raise self._unsupported()

    async def find_by_credentials(
        self, kind: ChangeKind, values: Sequence[str]
    ) -> dict[str, Customer]:
        raise self._unsupported()

    async def set_active(self, native_id: str, active: bool) -> Customer:
        raise self._unsupported()

    async def assign_level(self, native_id: str, level_id: str) -> Customer:
        raise self._unsupported()
