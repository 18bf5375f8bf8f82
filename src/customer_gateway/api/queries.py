"""Query root: backends, the signed-in customer, one customer, admin listings, levels."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator, Sequence

import strawberry
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

from customer_gateway import domain
from customer_gateway.api.context import Info
from customer_gateway.api.types import (
    Backend,
    Customer,
    CustomerConnection,
    CustomerEdge,
    Level,
    LinkedStatus,
    PageInfo,
)
from customer_gateway.concurrency import gather, retrieve_error
from customer_gateway.domain import GatewayError, InvalidInputError, UnsupportedError

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


def _fields(info: Info, path: Sequence[str]) -> Iterator[FieldNode]:
    """The fields selected under `path` below this field, fragments expanded.

    Walks graphql-core's nodes: Strawberry's `selected_fields` converts the whole selection
    tree, arguments and directives included, which costs more than the hint saves.
    """
    raw = info._raw_info
    level: list[SelectionSetNode | None] = [node.selection_set for node in raw.field_nodes]
    for depth in range(len(path) + 1):
        found: list[FieldNode] = []
        while level:
            selection_set = level.pop()
            for selection in selection_set.selections if selection_set else ():
                if isinstance(selection, FieldNode):
                    found.append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    level.append(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    fragment = raw.fragments.get(selection.name.value)
                    level.append(fragment.selection_set if fragment else None)
        if depth == len(path):
            yield from found
            return
        level = [f.selection_set for f in found if f.name.value == path[depth]]


_STATUS_FIELDS = frozenset({"loyalty", "level"})


def _status_fields(info: Info, *path: str) -> frozenset[str]:
    """Which loyalty fields the customers at `path` show: their statuses are read with them."""
    return _STATUS_FIELDS.intersection(f.name.value for f in _fields(info, path))


def _needs_status(customer: domain.Customer, fields: frozenset[str]) -> bool:
    """`level` alone needs no status read for a customer whose backend gave one."""
    return "loyalty" in fields or ("level" in fields and customer.level is None)


async def _with_status(
    info: Info, customers: Sequence[domain.Customer], fields: frozenset[str]
) -> list[Customer]:
    """The GraphQL customers, each with its status when its fields need one (one batch)."""
    wanted = [i for i, c in enumerate(customers) if _needs_status(c, fields)]
    if not wanted:
        return [Customer.from_domain(c) for c in customers]
    statuses = await info.context.loaders.loyalty_statuses([customers[i] for i in wanted])
    linked: list[LinkedStatus | None] = [None] * len(customers)
    for i, status in zip(wanted, statuses, strict=True):
        linked[i] = LinkedStatus(status)
    return [Customer.from_domain(c, s) for c, s in zip(customers, linked, strict=True)]


def _start_own_status(info: Info, backend: str) -> asyncio.Task[domain.LoyaltyStatus | None] | None:
    """On a loyalty backend, `me`'s status read with the customer's own token: it needs only
    the token, so it starts now, alongside the profile read, instead of after it."""
    context = info.context
    bearer = context.caller.bearer
    try:
        if not bearer or not context.services.loyalty.is_loyalty_backend(backend):
            return None
    except GatewayError:
        return None  # an unknown backend: `me` words the refusal
    task = asyncio.ensure_future(context.services.loyalty.own_status(backend, bearer))
    task.add_done_callback(retrieve_error)
    return task


@strawberry.type
class Query:
    @strawberry.field(description="The configured backends and whether each is healthy.")
    def backends(self, info: Info) -> list[Backend]:
        return [Backend.from_connector(c) for c in info.context.services.backends]

    @strawberry.field(description="The customer the bearer token belongs to, on that backend.")
    async def me(self, info: Info, backend: str) -> Customer:
        fields = _status_fields(info)
        own_status = _start_own_status(info, backend) if "loyalty" in fields else None
        try:
            customer = await info.context.services.customers.me(backend, info.context.caller)
        except BaseException:
            if own_status is not None:
                own_status.cancel()
            raise
        if own_status is not None:
            (status,) = await gather([own_status], return_exceptions=True)
            if not isinstance(status, UnsupportedError):
                return Customer.from_domain(customer, LinkedStatus(status))
        return (await _with_status(info, [customer], fields))[0]

    @strawberry.field(description="Own id with a customer token; any id with the admin key.")
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        context = info.context
        fields = _status_fields(info)
        if "loyalty" in fields and context.caller.is_admin:
            ref = context.services.backends.customer_ref(str(id))
            if context.services.loyalty.is_loyalty_backend(ref.backend):
                context.loaders.prefetch_status(ref.backend, ref.native_id)
        customer = await context.loaders.customer_by_id(str(id))
        return (await _with_status(info, [customer], fields))[0]

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
        page = await info.context.services.customers.customers(
            backend,
            domain.CustomerFilter(
                email=wanted.email,
                phone_number=wanted.phone_number,
                first_name=wanted.first_name,
                last_name=wanted.last_name,
            ),
            offset,
            first,
            info.context.caller,
        )
        nodes = await _with_status(info, page.customers, _status_fields(info, "edges", "node"))
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
