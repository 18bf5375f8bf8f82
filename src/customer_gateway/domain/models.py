"""The one customer model every vendor is normalised into (standard library only)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "Address",
    "AuthResult",
    "ChangeKind",
    "ChangeResult",
    "Customer",
    "CustomerFilter",
    "CustomerPage",
    "CustomerStatus",
    "CustomerUpdate",
    "Level",
    "LoyaltyStatus",
    "Token",
]


class CustomerStatus(StrEnum):
    NEW = "new"
    ACTIVE = "active"
    BLOCKED = "blocked"
    DELETED = "deleted"


class ChangeKind(StrEnum):
    """A login credential that changes only behind a one-time password."""

    EMAIL = "email"
    PHONE_NUMBER = "phone_number"


@dataclass(frozen=True, slots=True)
class Address:
    street: str | None = None
    address2: str | None = None
    city: str | None = None
    postal: str | None = None
    province: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class Level:
    id: str
    name: str
    discount_percent: float | None = None
    condition_value: float | None = None


@dataclass(frozen=True, slots=True)
class LoyaltyStatus:
    points: float
    level: Level | None = None
    next_level: Level | None = None
    points_to_next_level: float | None = None
    transactions_count: int | None = None
    transactions_amount: float | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer as one backend knows it; `raw` keeps the vendor payload for fields we lack."""

    backend: str
    native_id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone_number: str | None = None
    locale: str | None = None
    gender: str | None = None
    birth_date: date | None = None
    address: Address | None = None
    marketing_opt_in: bool | None = None
    loyalty_card_number: str | None = None
    active: bool | None = None
    status: CustomerStatus | None = None
    pending_email_change: bool = False
    pending_phone_number_change: bool = False
    level: Level | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def pending(self, kind: ChangeKind) -> bool:
        if kind is ChangeKind.EMAIL:
            return self.pending_email_change
        return self.pending_phone_number_change

    def credential(self, kind: ChangeKind) -> str | None:
        return self.email if kind is ChangeKind.EMAIL else self.phone_number


@dataclass(frozen=True, slots=True)
class Token:
    access_token: str
    refresh_token: str | None = None
    token_type: str = "Bearer"
    expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuthResult:
    token: Token
    customer: Customer


@dataclass(frozen=True, slots=True)
class CustomerUpdate:
    """Profile fields to change; None means "leave alone". Email and phone are not here."""

    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    gender: str | None = None
    birth_date: date | None = None
    address: Address | None = None
    marketing_opt_in: bool | None = None

    def changed(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """What a request to change a credential led to: applied at once, or waiting for a code."""

    pending: bool
    customer: Customer
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CustomerFilter:
    email: str | None = None
    phone_number: str | None = None
    first_name: str | None = None
    last_name: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerPage:
    """One page of an admin listing, by item offset."""

    customers: tuple[Customer, ...]
    offset: int
    total: int | None

    @property
    def has_next(self) -> bool:
        return self.total is not None and self.offset + len(self.customers) < self.total
