"""The GraphQL object types, built from domain models (never from vendor JSON)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from typing import TypeVar, cast

import strawberry
from strawberry.scalars import JSON

from customer_gateway import domain
from customer_gateway.api.context import Info
from customer_gateway.connectors.protocol import Connector
from customer_gateway.domain import ChangeKind
from customer_gateway.records import converted
from customer_gateway.services.loyalty import StatusRead

__all__ = [
    "Address",
    "AuthPayload",
    "Backend",
    "BackendKind",
    "ChangeRequestPayload",
    "Customer",
    "CustomerConnection",
    "CustomerEdge",
    "CustomerPayload",
    "CustomerStatus",
    "Level",
    "LoyaltyStatus",
    "PageInfo",
    "Token",
    "UserError",
]

T = TypeVar("T")


@strawberry.enum
class BackendKind(Enum):
    MENU = "menu"
    KIBO = "kibo"
    OPEN_LOYALTY = "open_loyalty"
    OTHER = "other"  # a kind added by a connector plugin


@strawberry.enum
class CustomerStatus(Enum):
    NEW = "new"
    ACTIVE = "active"
    BLOCKED = "blocked"
    DELETED = "deleted"


@strawberry.type(description="A configured customer backend.")
class Backend:
    name: str
    kind: BackendKind
    capabilities: list[str]
    healthy: bool

    @classmethod
    def from_connector(cls, connector: Connector) -> Backend:
        known = {kind.value for kind in BackendKind}
        return cls(
            name=connector.name,
            kind=BackendKind(connector.kind if connector.kind in known else "other"),
            capabilities=sorted(c.value for c in connector.capabilities),
            healthy=connector.is_healthy(),
        )


@strawberry.type
class Level:
    id: strawberry.ID
    name: str
    discount_percent: float | None = None
    condition_value: float | None = None

    @classmethod
    def from_domain(cls, level: domain.Level | None) -> Level | None:
        if level is None:
            return None
        return converted(cls, level, id=strawberry.ID(level.id))


@strawberry.type
class LoyaltyStatus:
    points: float
    level: Level | None
    next_level: Level | None
    points_to_next_level: float | None
    transactions_count: int | None
    transactions_amount: float | None
    currency: str | None

    @classmethod
    def from_domain(cls, status: domain.LoyaltyStatus) -> LoyaltyStatus:
        return converted(
            cls,
            status,
            level=Level.from_domain(status.level),
            next_level=Level.from_domain(status.next_level),
        )


@strawberry.type
class Address:
    street: str | None
    address2: str | None
    city: str | None
    postal: str | None
    province: str | None
    country: str | None


@strawberry.federation.type(keys=["id"], description="A customer as one backend knows it.")
class Customer:
    id: strawberry.ID = strawberry.field(
        description="Opaque, stable global id encoding the backend name and the native id."
    )
    native_id: str = strawberry.field(description="The customer's id inside its backend.")
    first_name: str | None
    last_name: str | None
    email: str | None
    phone_number: str | None = strawberry.field(description="E.164, e.g. +14155550101.")
    locale: str | None
    gender: str | None
    birth_date: date | None
    address: Address | None
    marketing_opt_in: bool | None
    loyalty_card_number: str | None
    active: bool | None
    status: CustomerStatus | None
    created_at: datetime | None
    updated_at: datetime | None
    model: strawberry.Private[domain.Customer]
    linked: strawberry.Private[StatusRead | None] = None

    @classmethod
    def from_domain(cls, customer: domain.Customer, linked: StatusRead | None = None) -> Customer:
        address = customer.address
        return converted(
            cls,
            customer,
            id=strawberry.ID(domain.encode_customer_id(customer.backend, customer.native_id)),
            address=converted(Address, address) if address else None,
            status=CustomerStatus(customer.status.value) if customer.status else None,
            model=customer,
            linked=linked,
        )

    @strawberry.field(description="The vendor's own payload, for fields the common model lacks.")
    def raw(self) -> JSON | None:
        return cast("JSON", dict(self.model.raw))  # copied only when asked for

    @strawberry.field
    def backend(self, info: Info) -> Backend:
        return Backend.from_connector(info.context.services.backends.get(self.model.backend))

    @strawberry.field(description="True while an email change waits for its one-time code.")
    async def pending_email_change(self, info: Info) -> bool:
        return await info.context.services.changes.is_pending(self.model, ChangeKind.EMAIL)

    @strawberry.field(description="True while a phone number change waits for its one-time code.")
    async def pending_phone_number_change(self, info: Info) -> bool:
        return await info.context.services.changes.is_pending(self.model, ChangeKind.PHONE_NUMBER)

    @strawberry.field(description="From this backend, or from its linked loyalty backend.")
    def level(self, info: Info) -> Level | None:
        if self.model.level is not None:
            return Level.from_domain(self.model.level)
        return self._with_status(info, lambda status: Level.from_domain(status.level))

    @strawberry.field(description="From the linked loyalty backend; null when none is linked.")
    def loyalty(self, info: Info) -> LoyaltyStatus | None:
        return self._with_status(info, LoyaltyStatus.from_domain)

    def _with_status(self, info: Info, convert: Callable[[domain.LoyaltyStatus], T]) -> T | None:
        """At once when the status came with the customer; otherwise an awaitable, which
        graphql-core awaits. Sync resolvers keep a page's items free of per-item coroutines,
        which under load were most of a page's memory and much of its execution time."""
        if self.linked is not None:
            status = self.linked.get()
            return convert(status) if status else None
        return cast("T | None", self._fetch_status(info, convert))

    async def _fetch_status(
        self, info: Info, convert: Callable[[domain.LoyaltyStatus], T]
    ) -> T | None:
        status = await info.context.reads.status_of(self.model)
        return convert(status) if status else None

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Customer:
        """Federation entities: batched per request, same access rules as `customer(id)`."""
        return cls.from_domain(await info.context.reads.entity(str(id)))


@strawberry.type
class Token:
    access_token: str
    refresh_token: str | None
    token_type: str
    expires_at: datetime | None
    refresh_expires_at: datetime | None

    @classmethod
    def from_domain(cls, token: domain.Token) -> Token:
        return converted(cls, token)


@strawberry.type(description="An expected problem with the input, reported in the payload.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path of the offending argument, e.g. ["input", "lastName"].'
    )
    message: str
    code: str
    retry_after: int | None = strawberry.field(
        default=None,
        description="Seconds after which the same request may succeed (CHANGE_IN_PROGRESS).",
    )


@strawberry.type
class AuthPayload:
    token: Token | None = None
    customer: Customer | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CustomerPayload:
    customer: Customer | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ChangeRequestPayload:
    pending: bool = False
    expires_at: datetime | None = None
    customer: Customer | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class CustomerEdge:
    node: Customer
    cursor: str


@strawberry.type
class CustomerConnection:
    edges: list[CustomerEdge]
    page_info: PageInfo
    total_count: int | None
