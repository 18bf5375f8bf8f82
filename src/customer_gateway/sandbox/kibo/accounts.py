"""The tenant's customer accounts: records, lookup, Kibo's PUT rules and the admin list.

Kept apart from the HTTP surface so the rules read in one place: int32 ids from 1001; a PUT
replaces the writable fields but ignores `isActive` and `contacts`; an email or user name another
account holds is a 409; the list filters with Kibo's syntax, sorts, and pages by item offset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from customer_gateway.sandbox.clock import Clock
from customer_gateway.sandbox.kibo.contacts import new_contact
from customer_gateway.sandbox.kibo.model import (
    DemoKiboCustomer,
    KiboError,
    KiboFilterError,
    invalid_parameter,
    iso,
    matches_filter,
    new_user_id,
    page,
)

__all__ = ["WRITABLE", "Account", "AccountStore"]

WRITABLE = (
    "firstName",
    "lastName",
    "emailAddress",
    "userName",
    "localeCode",
    "acceptsMarketing",
    "companyOrOrganization",
    "taxExempt",
    "taxId",
    "externalId",
    "attributes",
    "notes",
    "segments",
    "customerSet",
    "accountType",
)


@dataclass
class Account:
    data: dict[str, Any]
    password: str
    contacts: list[dict[str, Any]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {**self.data, "contacts": [dict(c) for c in self.contacts]}


class AccountStore:
    """Every account of the tenant, keyed by its int32 id."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.records: dict[int, Account] = {}
        self._next_id, self._next_contact = 1001, 1401

    def add(self, person: DemoKiboCustomer) -> Account:
        """An account as the back office creates it; a phone becomes its primary contact."""
        email, phone = person.email, person.phone
        now = iso(self.clock.now())
        account_id = self._next_id
        self._next_id += 1
        account = Account(
            data={
                "id": account_id,
                "userId": new_user_id(),
                "userName": email,
                "emailAddress": email,
                "firstName": person.first_name,
                "lastName": person.last_name,
                "localeCode": "en-US",
                "acceptsMarketing": False,
                "isActive": True,
                "isLocked": False,
                "isAnonymous": False,
                "hasExternalPassword": False,
                "companyOrOrganization": None,
                "taxExempt": False,
                "taxId": None,
                "externalId": None,
                "customerSet": "default",
                "accountType": "B2C",
                "customerSinceDate": now,
                "attributes": [],
                "notes": [],
                "segments": [],
                "commerceSummary": {
                    "totalOrderAmount": {"amount": 0, "currencyCode": "USD"},
                    "orderCount": 0,
                    "lastOrderDate": None,
                    "wishlistCount": 0,
                    "visitsCount": 0,
                },
                "auditInfo": {
                    "createDate": now,
                    "createBy": "sandbox",
                    "updateDate": now,
                    "updateBy": "sandbox",
                },
                "migrationRequired": False,
            },
            password=person.password,
        )
        self.records[account_id] = account
        if phone:
            self.add_contact(
                account,
                {
                    "phoneNumbers": {"home": None, "mobile": phone, "work": None},
                    "types": [{"name": "Billing", "isPrimary": True}],
                },
            )
        return account

    def add_contact(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        contact = new_contact(account.data, body, self._next_contact, iso(self.clock.now()))
        self._next_contact += 1
        account.contacts.append(contact)
        return contact

    def by_user_name(self, name: str) -> Account | None:
        wanted = name.casefold()
        return next(
            (a for a in self.records.values() if a.data["userName"].casefold() == wanted), None
        )

    def replace(self, account: Account, body: Any) -> None:
        """A PUT of the account: the writable fields, once the email is valid and free."""
        if not isinstance(body, dict):
            raise invalid_parameter("account")
        email = str(body.get("emailAddress") or "")
        if "@" not in email or "." not in email.rsplit("@", 1)[-1]:
            raise invalid_parameter("emailAddress")
        user_name = str(body.get("userName") or email).casefold()
        clash = next(
            (
                a
                for a in self.records.values()
                if a is not account
                and (
                    a.data["emailAddress"].casefold() == email.casefold()
                    or a.data["userName"].casefold() == user_name
                )
            ),
            None,
        )
        if clash is not None:
            raise KiboError(
                409,
                "VALIDATION_CONFLICT",
                "An account with this email or user name already exists.",
            )
        for key in WRITABLE:  # isActive and contacts are not changed by a PUT
            if key in body:
                account.data[key] = body[key]
        self.touch(account)

    def touch(self, account: Account) -> None:
        account.data["auditInfo"] = {
            **account.data["auditInfo"],
            "updateDate": iso(self.clock.now()),
        }

    def search(self, query: Mapping[str, str]) -> dict[str, Any]:
        """The admin list: `filter`, `sortBy` (`id asc` by default), `startIndex`, `pageSize`."""
        try:
            start, size = int(query.get("startIndex", "0")), int(query.get("pageSize", "20"))
        except ValueError:
            raise invalid_parameter("pageSize") from None
        if not (start >= 0 and 1 <= size <= 200):
            raise invalid_parameter("pageSize")
        rows = [a.view() for a in self.records.values()]
        expression = query.get("filter")
        if expression:
            try:
                rows = [r for r in rows if matches_filter(r, expression)]
            except KiboFilterError:
                raise invalid_parameter("filter") from None
        sort = (query.get("sortBy") or "id asc").split()
        rows.sort(
            key=lambda r: str(r.get(sort[0]) or "") if sort[0] != "id" else r["id"],
            reverse=len(sort) > 1 and sort[1].lower() == "desc",
        )
        return page(rows, start, size)
