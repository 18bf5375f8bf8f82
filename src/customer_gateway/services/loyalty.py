"""Loyalty linking: a commerce customer's points and level from the linked loyalty backend.

A link matches on the credential the commerce backend verified for its customer (its sign-in
identifier: email for Menu email-auth brands and Kibo, phone number for Menu phone-auth brands),
and never on one the gateway lets change without a code: such a credential proves nothing, and
matching on it would show another member's points and level to whoever typed their address in.
Accounts are looked up with the loyalty backend's service credentials, and only for customers
the commerce backend has already returned to this caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

from customer_gateway.concurrency import gather, gather_bounded, retrieve_error
from customer_gateway.connectors.protocol import Capability, ChangeFlow, Connector
from customer_gateway.domain import ChangeKind, Customer, LoyaltyStatus, ValidationError
from customer_gateway.services.backends import Backends
from customer_gateway.services.batching import Batches
from customer_gateway.services.validation import normalise_email, normalise_phone_number

__all__ = ["LinkKey", "LinkedStatuses", "LoyaltyService", "Shown", "StatusRead"]

StatusKey = tuple[str, str]  # (loyalty backend, native id)
STATUS_CONCURRENCY = 25  # a page of 100 must not open 100 connections at once


@dataclass(frozen=True, slots=True)
class Shown:
    """Which loyalty data a client shows for some customers: `loyalty`, `level`, or neither."""

    loyalty: bool = False
    level: bool = False

    def needs_status(self, customer: Customer) -> bool:
        """A level the customer's own backend gave needs no status read."""
        return self.loyalty or (self.level and customer.level is None)


@dataclass(frozen=True, slots=True)
class StatusRead:
    """A loyalty status read along with its customer: the status, none, or the error that the
    fields showing it report in their own place."""

    result: LoyaltyStatus | BaseException | None

    def get(self) -> LoyaltyStatus | None:
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


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


class LinkedStatuses:
    """One request's loyalty reads, batched: every account and status the request needs is read
    in at most two rounds (accounts by the linking credential on linked backends, then
    statuses), each once, however many fields and customers ask."""

    def __init__(self, loyalty: LoyaltyService, batches: Batches) -> None:
        self._loyalty = loyalty
        self._accounts = batches(partial(_loyalty_accounts, loyalty))
        self._statuses = batches(partial(_loyalty_statuses, loyalty))

    def start(self, backend: str, native_id: str) -> None:
        """Start a loyalty customer's status read now, alongside a profile read it does not
        depend on; whoever needs it later awaits the same read. Only for callers allowed to
        read any id (the admin key)."""
        future = self._statuses.load((backend, native_id))
        future.add_done_callback(retrieve_error)  # awaited by the field, if asked

    async def for_shown(
        self, customers: Sequence[Customer], shown: Shown
    ) -> list[StatusRead | None]:
        """The statuses that what is shown needs (None where none is read), in one batch."""
        wanted = [i for i, c in enumerate(customers) if shown.needs_status(c)]
        reads: list[StatusRead | None] = [None] * len(customers)
        if wanted:
            statuses = await self.read([customers[i] for i in wanted])
            for i, status in zip(wanted, statuses, strict=True):
                reads[i] = StatusRead(status)
        return reads

    async def read(
        self, customers: Sequence[Customer]
    ) -> list[LoyaltyStatus | BaseException | None]:
        """Each customer's status on the backend holding their points, errors in place. A
        customer of a linked backend without the linking credential, or without an account
        there, has none."""
        holders = [self._loyalty.loyalty_backend_for(c) for c in customers]
        accounts: list[Customer | BaseException | None] = [
            c if holder == c.backend else None for c, holder in zip(customers, holders, strict=True)
        ]
        links = [
            self._loyalty.link_key(c) if holder not in (None, c.backend) else None
            for c, holder in zip(customers, holders, strict=True)
        ]
        lookups = {i: self._accounts.load(link) for i, link in enumerate(links) if link}
        found = await gather(list(lookups.values()), return_exceptions=True)
        for i, account in zip(lookups, found, strict=True):
            accounts[i] = account
        results: list[LoyaltyStatus | BaseException | None] = [
            a if isinstance(a, BaseException) else None for a in accounts
        ]
        reads = {
            i: self._statuses.load((holder, account.native_id))
            for i, (account, holder) in enumerate(zip(accounts, holders, strict=True))
            if isinstance(account, Customer) and holder is not None
        }
        read = await gather(list(reads.values()), return_exceptions=True)
        for i, status in zip(reads, read, strict=True):
            results[i] = status
        return results

    async def of(self, customer: Customer) -> LoyaltyStatus | None:
        (result,) = await self.read([customer])
        if isinstance(result, BaseException):
            raise result
        return result

    def own_status(self, backend: str, access_token: str) -> asyncio.Task[LoyaltyStatus | None]:
        """On a loyalty backend, the token's own status read with the token itself: it needs
        nothing but the token, so it can run alongside the profile read."""
        task = asyncio.ensure_future(self._loyalty.own_status(backend, access_token))
        task.add_done_callback(retrieve_error)
        return task


async def _loyalty_accounts(loyalty: LoyaltyService, keys: list[LinkKey]) -> list[Customer | None]:
    """One lookup per loyalty backend and credential for every link of the batch."""
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
    loyalty: LoyaltyService, keys: list[StatusKey]
) -> list[LoyaltyStatus | None]:
    calls = [partial(loyalty.status, backend, native_id) for backend, native_id in keys]
    results = await gather_bounded(calls, limit=STATUS_CONCURRENCY, return_exceptions=True)
    return cast("list[LoyaltyStatus | None]", results)
