"""Per-request data loaders: each backend is asked once per request, however many fields need it.

No loader refers back to `Loaders` (batch functions are partials of module functions, not bound
methods): a request's objects then form no reference cycle and are freed the moment the request
ends, instead of waiting for the cyclic garbage collector, whose passes cost CPU under load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any, Generic, TypeVar, cast

from aiodataloader import DataLoader

from customer_gateway.concurrency import gather, gather_bounded, retrieve_error
from customer_gateway.domain import AuthenticationError, ChangeKind, Customer, LoyaltyStatus
from customer_gateway.services import Backends, Caller, CustomerService
from customer_gateway.services.loyalty import LinkKey, LoyaltyService

__all__ = ["Loaders"]


LoyaltyKey = tuple[str, str]  # (loyalty backend, native id)
K = TypeVar("K")
V = TypeVar("V")


class _Lazy(Generic[K, V]):
    """A DataLoader built on first use (most requests need only one or two of them)."""

    __slots__ = ("_batch", "_loader")

    def __init__(self, batch: Callable[[list[K]], Coroutine[Any, Any, list[V]]]) -> None:
        self._batch = batch
        self._loader: DataLoader[K, V] | None = None

    @property
    def loader(self) -> DataLoader[K, V]:
        if self._loader is None:
            self._loader = DataLoader(self._batch)
        return self._loader

    def load(self, key: K) -> asyncio.Future[V]:
        return self.loader.load(key)


class Loaders:
    """Created per request; each loader only when a field first needs it."""

    def __init__(self, backends: Backends, loyalty: LoyaltyService, bearer: str | None) -> None:
        self._identity: _Lazy[str, Customer] = _Lazy(partial(_identities, backends, bearer))
        self._loyalty_account: _Lazy[LinkKey, Customer | None] = _Lazy(
            partial(_loyalty_accounts, loyalty)
        )
        self._loyalty_status: _Lazy[LoyaltyKey, LoyaltyStatus | None] = _Lazy(
            partial(_loyalty_statuses, loyalty)
        )
        self._customer: _Lazy[str, Customer] | None = None
        self._loyalty = loyalty  # a shared service: it refers to nothing of this request
        self.identify = self._identity.load  # for Caller: refers to the loader, not to self

    @property
    def identity(self) -> DataLoader[str, Customer]:
        return self._identity.loader

    @property
    def loyalty_account(self) -> DataLoader[LinkKey, Customer | None]:
        return self._loyalty_account.loader

    @property
    def loyalty_status(self) -> DataLoader[LoyaltyKey, LoyaltyStatus | None]:
        return self._loyalty_status.loader

    @property
    def customer(self) -> DataLoader[str, Customer]:
        """Customers by global id, batched per backend and checked against the bound caller."""
        if self._customer is None:
            raise RuntimeError("Loaders.bind() was not called")
        return self._customer.loader

    def bind(self, customers: CustomerService, caller: Caller) -> None:
        self._customer = _Lazy(partial(_customers_by_ids, customers, caller))

    def prefetch_status(self, backend: str, native_id: str) -> None:
        """Start a loyalty status read now, alongside the profile read it does not depend on;
        the loyalty field later awaits the same load. Only for callers allowed to read any id."""
        future = self.loyalty_status.load((backend, native_id))
        future.add_done_callback(retrieve_error)  # resolved by the field, if asked

    async def customer_by_id(self, global_id: str) -> Customer:
        return await self.customer.load(global_id)

    async def loyalty_statuses(
        self, customers: Sequence[Customer]
    ) -> list[LoyaltyStatus | BaseException | None]:
        """Each customer's status on the backend holding their points, in at most two batched
        rounds (accounts by the linking credential on linked backends, then statuses); errors
        in place. A customer of a linked backend without that credential, or without an account
        there, has none.
        """
        holders = [self._loyalty.loyalty_backend_for(c) for c in customers]
        accounts: list[Customer | BaseException | None] = [
            c if holder == c.backend else None for c, holder in zip(customers, holders, strict=True)
        ]
        links = [
            self._loyalty.link_key(c) if holder not in (None, c.backend) else None
            for c, holder in zip(customers, holders, strict=True)
        ]
        lookups = {
            i: self.loyalty_account.load(link) for i, link in enumerate(links) if link is not None
        }
        found = await gather(list(lookups.values()), return_exceptions=True)
        for i, account in zip(lookups, found, strict=True):
            accounts[i] = account
        results: list[LoyaltyStatus | BaseException | None] = [
            a if isinstance(a, BaseException) else None for a in accounts
        ]
        reads = {
            i: self.loyalty_status.load((holder, account.native_id))
            for i, (account, holder) in enumerate(zip(accounts, holders, strict=True))
            if isinstance(account, Customer) and holder is not None
        }
        read = await gather(list(reads.values()), return_exceptions=True)
        for i, status in zip(reads, read, strict=True):
            results[i] = status
        return results

    async def loyalty_status_of(self, customer: Customer) -> LoyaltyStatus | None:
        (result,) = await self.loyalty_statuses([customer])
        if isinstance(result, BaseException):
            raise result
        return result


async def _customers_by_ids(
    customers: CustomerService, caller: Caller, global_ids: list[str]
) -> list[Customer]:
    results = await customers.customers_by_ids(global_ids, caller=caller)
    return cast("list[Customer]", results)  # errors are returned in place


async def _identities(
    backends: Backends, bearer: str | None, backend_names: list[str]
) -> list[Customer]:
    """The bearer token's customer on each backend (the token is only valid on one).

    Failures are returned in place, as aiodataloader expects, so one backend's error rejects
    only the fields that asked for it.
    """

    async def one(name: str) -> Customer:
        if not bearer:
            raise AuthenticationError()
        return await backends.get(name).current_customer(bearer)

    results = await gather([one(n) for n in backend_names], return_exceptions=True)
    return cast("list[Customer]", results)


async def _loyalty_accounts(loyalty: LoyaltyService, keys: list[LinkKey]) -> list[Customer | None]:
    """One batched lookup per loyalty backend and credential for every link the request needs."""
    groups: dict[tuple[str, ChangeKind], list[str]] = {}
    for key in keys:
        groups.setdefault((key.backend, key.kind), []).append(key.value)

    async def lookup(
        backend: str, kind: ChangeKind, values: list[str]
    ) -> dict[str, Customer] | BaseException:
        try:
            return await loyalty.accounts(backend, kind, values)
        except Exception as error:  # reported on each field that needed this backend
            return error

    found = await gather([lookup(b, k, values) for (b, k), values in groups.items()])
    results = dict(zip(groups, found, strict=True))
    answers: list[Any] = []
    for key in keys:
        result = results[(key.backend, key.kind)]
        answers.append(result if isinstance(result, BaseException) else result.get(key.value))
    return cast("list[Customer | None]", answers)


async def _loyalty_statuses(
    loyalty: LoyaltyService, keys: list[LoyaltyKey]
) -> list[LoyaltyStatus | None]:
    # A page of 100 must not open 100 connections at once.
    calls = [partial(loyalty.status, backend, native_id) for backend, native_id in keys]
    results = await gather_bounded(calls, limit=25, return_exceptions=True)
    return cast("list[LoyaltyStatus | None]", results)
