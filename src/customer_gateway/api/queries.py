"""Query root: backends, the signed-in customer, one customer, admin listings, levels."""

from __future__ import annotations

import base64

import strawberry

from customer_gateway import domain
from customer_gateway.api.context import Info
from customer_gateway.api.framework import selected_fields
from customer_gateway.api.types import (
    Backend,
    Customer,
    CustomerConnection,
    CustomerEdge,
    Level,
    PageInfo,
)
from customer_gateway.domain import InvalidInputError
from customer_gateway.services.loyalty import Shown

__all__ = ["CustomerFilter", "Query"]

DEFAULT_PAGE_SIZE = 20


@strawberry.input
class CustomerFilter:
    email: str | None = None
    phone_number: str | None = None
    first_name: str | None = None
    last_name: str | None = None


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode("ascii")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
        kind, _, value = text.partition(":")
        offset = int(value)
    except (ValueError, UnicodeError):
        raise InvalidInputError("Not a cursor from this API.") from None
    if kind != "offset" or offset < 0:
        raise InvalidInputError("Not a cursor from this API.")
    return offset


def _shown(info: Info, *path: str) -> Shown:
    """Which loyalty data the customers at `path` show: their statuses are read with them."""
    names = {f.name.value for f in selected_fields(info, path)}
    return Shown(loyalty="loyalty" in names, level="level" in names)


@strawberry.type
class Query:
    @strawberry.field(description="The configured backends and whether each is healthy.")
    def backends(self, info: Info) -> list[Backend]:
        return [Backend.from_connector(c) for c in info.context.services.backends]

    @strawberry.field(description="The customer the bearer token belongs to, on that backend.")
    async def me(self, info: Info, backend: str) -> Customer:
        customer, status = await info.context.reads.me(backend, _shown(info))
        return Customer.from_domain(customer, status)

    @strawberry.field(description="Own id with a customer token; any id with the admin key.")
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        customer, status = await info.context.reads.customer(str(id), _shown(info))
        return Customer.from_domain(customer, status)

    @strawberry.field(description="Admin key required. `first` is at most 100.")
    async def customers(
        self,
        info: Info,
        backend: str,
        filter: CustomerFilter | None = None,
        first: int | None = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> CustomerConnection:
        offset = decode_cursor(after) + 1 if after else 0
        first = DEFAULT_PAGE_SIZE if first is None else first  # null, or a null variable
        wanted = filter or CustomerFilter()
        page, statuses = await info.context.reads.page(
            backend,
            domain.CustomerFilter(
                email=wanted.email,
                phone_number=wanted.phone_number,
                first_name=wanted.first_name,
                last_name=wanted.last_name,
            ),
            offset,
            first,
            _shown(info, "edges", "node"),
        )
        nodes = [Customer.from_domain(c, s) for c, s in zip(page.customers, statuses, strict=True)]
        edges = [
            CustomerEdge(node=node, cursor=encode_cursor(page.offset + i))
            for i, node in enumerate(nodes)
        ]
        return CustomerConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=page.offset > 0,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=page.total,
        )

    @strawberry.field(description="The loyalty programme's levels (public; no credentials).")
    async def levels(self, info: Info, backend: str) -> list[Level]:
        levels = await info.context.services.customers.levels(backend)
        return [lvl for lvl in (Level.from_domain(level) for level in levels) if lvl is not None]
