"""The Open Loyalty emulator's customers: lookup, uniqueness, changes and the admin search.

Kept apart from the HTTP surface so the rules (what a change does, how the list filters, sorts
and pages) read in one place.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from customer_gateway.sandbox.clock import Clock
from customer_gateway.sandbox.open_loyalty.auth import OpenLoyaltyError
from customer_gateway.sandbox.open_loyalty.model import (
    LoyaltyCustomer,
    TierAssignType,
    customer_view,
    level_admin_view,
)
from customer_gateway.sandbox.open_loyalty.seed import (
    LEVELS,
    SEED_EPOCH,
    DemoLoyaltyCustomer,
    earned_level,
    level_by_name,
)

__all__ = ["PROFILE_FIELDS", "CustomerStore", "level_page", "page_params"]

# Form fields kept on the customer (others, such as `invitationToken`, are accepted and dropped).
PROFILE_FIELDS = frozenset(
    {
        "firstName", "lastName", "gender", "email", "phone", "birthDate", "address", "company",
        "loyaltyCardNumber", "labels", "agreement1", "agreement2", "agreement3", "posId",
        "sellerId",
    }
)  # fmt: skip
_UNIQUE = ("email", "phone", "loyaltyCardNumber")
_TEXT_FILTERS = ("firstName", "lastName", "phone", "email", "loyaltyCardNumber")
_RANGE_FILTERS = {
    "transactionsAmount": "transactionsAmount",
    "averageTransactionAmount": "averageTransactionAmount",
    "transactionsCount": "transactionsCount",
}


def page_params(query: Mapping[str, str], per_page_default: int = 10) -> tuple[int, int]:
    """`page` (1-based) and `perPage`; PHP reads junk as the default rather than failing."""

    def read(name: str, default: int) -> int:
        try:
            return max(1, int(query.get(name, default)))
        except ValueError:
            return default

    return read("page", 1), read("perPage", per_page_default)


def level_page(query: Mapping[str, str]) -> dict[str, Any]:
    """The admin level list. Without `sort` the repository's own (creation) order is kept: the
    vendor's paginator has no default sort field."""
    rows = [level_admin_view(level) for level in LEVELS]
    sort = query.get("sort")
    if sort:
        present = [row for row in rows if isinstance(row.get(sort), str | int | float)]
        descending = query.get("direction", "asc").lower() == "desc"
        present.sort(key=lambda row: _sort_key(row[sort]), reverse=descending)
        rows = present + [row for row in rows if row not in present]
    page, per_page = page_params(query)
    return {"levels": rows[(page - 1) * per_page : page * per_page], "total": len(rows)}


class CustomerStore:
    """All customers of one store, keyed by customerId."""

    def __init__(self, clock: Clock, tier: TierAssignType) -> None:
        self.clock = clock
        self.tier: TierAssignType = tier
        self.customers: dict[str, LoyaltyCustomer] = {}

    def get(self, customer_id: str) -> LoyaltyCustomer:
        customer = self.customers.get(customer_id)
        if customer is None:
            raise OpenLoyaltyError.framework(404, "Not Found")
        return customer

    def create(
        self, profile: dict[str, Any], *, password: str, has_account: bool
    ) -> LoyaltyCustomer:
        now = self.clock.now()
        customer = LoyaltyCustomer(
            customer_id=str(uuid.uuid4()),
            password=password or secrets.token_urlsafe(16),  # no password: cannot sign in
            created_at=now,
            updated_at=now,
            has_account=has_account,
        )
        self.customers[customer.customer_id] = customer
        self.apply(customer, profile)
        customer.version = 1
        return customer

    def add(
        self,
        *,
        email: str,
        password: str = "",
        first_name: str = "",
        last_name: str = "",
        phone: str | None = None,
        points: float = 0.0,
        level_name: str | None = None,
        active: bool = True,
    ) -> LoyaltyCustomer:
        """A customer stored directly; it has a points account once it has points, and a
        `level_name` other than the one its points (or spend) earn is a manual assignment."""
        if self.taken("email", email, None):
            raise ValueError(f"email already used: {email}")
        profile: dict[str, Any] = {"firstName": first_name or None, "lastName": last_name or None}
        profile |= {"email": email.lower(), "phone": phone or None, "agreement1": True}
        customer = self.create(profile, password=password, has_account=points > 0)
        customer.active = active
        customer.points = points
        customer.transactions_count = int(points // 100)  # seeded spend: 10 per 100 points
        customer.transactions_amount = customer.transactions_count * 10.0
        if level_name is not None:
            level = level_by_name(level_name)
            if level is None:
                raise ValueError(f"unknown level: {level_name}")
            if level != earned_level(customer.condition_value(self.tier)):
                customer.manual_level_id = level.level_id
        return customer

    def seed(self, demos: Iterable[DemoLoyaltyCustomer]) -> None:
        """The demo customers, created a day apart; levels follow the tier-assign rule."""
        for index, demo in enumerate(demos):
            # Its level follows from its points: the demo's `level_name` is what that earns.
            customer = self.add(**{**asdict(demo), "level_name": None})
            customer.created_at = customer.updated_at = SEED_EPOCH + index * 86400

    def by_login(self, username: str) -> LoyaltyCustomer | None:
        """A customer signs in with its email (any case), phone or loyalty card number."""
        wanted = username.strip()
        if not wanted:
            return None
        for customer in self.customers.values():
            if (customer.get("email") or "") == wanted.lower() or wanted in (
                customer.get("phone"),
                customer.get("loyaltyCardNumber"),
            ):
                return customer
        return None

    def taken(self, field: str, value: str, me: LoyaltyCustomer | None) -> bool:
        """Whether another customer already has this email, phone or loyalty card number."""
        if field not in _UNIQUE:
            return False
        wanted = value.lower() if field == "email" else value
        return any(
            other is not me and other.get(field) == wanted for other in self.customers.values()
        )

    def apply(self, customer: LoyaltyCustomer, changes: Mapping[str, Any]) -> None:
        """A valid submission: None erases, compound fields are replaced whole."""
        for key, value in changes.items():
            if key == "levelId":
                customer.manual_level_id = value
            elif key == "createdAt":
                if value is not None:
                    customer.created_at = float(value)
            elif key in PROFILE_FIELDS:
                if value is None or value == [] or value == {}:
                    customer.profile.pop(key, None)
                else:
                    customer.profile[key] = value
        self.touch(customer)

    def touch(self, customer: LoyaltyCustomer) -> None:
        customer.updated_at = self.clock.now()
        customer.version += 1

    def request_phone_change(self, customer: LoyaltyCustomer, phone: str) -> str:
        """Keep the old phone, remember the new one behind a 6-digit SMS code."""
        code = f"{secrets.randbelow(10**6):06d}"
        customer.pending_phone = (phone, code)
        return code

    def confirm_phone_change(self, customer: LoyaltyCustomer, code: str) -> None:
        pending = customer.pending_phone
        if pending is None or not secrets.compare_digest(pending[1].encode(), code.encode()):
            raise OpenLoyaltyError.framework(404, "Not Found")
        customer.pending_phone = None
        if any(c is not customer and c.get("phone") == pending[0] for c in self.customers.values()):
            raise OpenLoyaltyError.framework(400, "Bad Request")  # taken since it was asked for
        self.apply(customer, {"phone": pending[0]})

    def search(self, query: Mapping[str, str]) -> tuple[list[dict[str, Any]], int]:
        """The admin list: one page of rows and the number of all matches."""
        strict = query.get("strict", "0").lower() in ("1", "true")
        rows = [customer_view(c, self.tier, detail=False) for c in self.customers.values()]
        for key in _TEXT_FILTERS:
            wanted = query.get(key, "").strip().casefold()
            if wanted:
                rows = [r for r in rows if _text_match(r.get(key), wanted, strict=strict)]
        for key, column in _RANGE_FILTERS.items():
            low, high = _float(query.get(f"{key}From")), _float(query.get(f"{key}To"))
            if low is not None:
                rows = [r for r in rows if float(r[column]) >= low]
            if high is not None:
                rows = [r for r in rows if float(r[column]) <= high]
        sort = query.get("sort") or "createdAt"
        descending = query.get("direction", "desc").lower() != "asc"
        present = [r for r in rows if r.get(sort) is not None]
        present.sort(key=lambda r: _sort_key(r[sort]), reverse=descending)
        ordered = present + [r for r in rows if r.get(sort) is None]  # missing values last
        page, per_page = page_params(query)
        return ordered[(page - 1) * per_page : page * per_page], len(ordered)


def _text_match(value: Any, wanted: str, *, strict: bool) -> bool:
    text = str(value or "").casefold()
    return text == wanted if strict else wanted in text


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _sort_key(value: Any) -> tuple[int, float, str]:
    if isinstance(value, bool | int | float):
        return (0, float(value), "")
    return (1, 0.0, str(value).casefold())
