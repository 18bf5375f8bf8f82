"""Seed data for the Open Loyalty emulator: the programme's levels and the demo customers.

Levels have the 4.x admin shape (a `levelId` UUID, the reward as a fraction). Each demo customer
states the level its points earn, so the demo can say who is Gold without asking the API.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEMO_ADMIN_PASSWORD",
    "DEMO_ADMIN_USERNAME",
    "DEMO_CUSTOMERS",
    "DEMO_STORE_CODE",
    "LEVELS",
    "SEED_EPOCH",
    "DemoLoyaltyCustomer",
    "LoyaltyLevel",
    "earned_level",
    "level_by_id",
    "level_by_name",
]

DEMO_ADMIN_USERNAME = "admin"
DEMO_ADMIN_PASSWORD = "loyalty-admin-pass"
DEMO_STORE_CODE = "DEFAULT"
# Seeded customers were created a day apart from here (2024-01-02T09:30:00Z), so the list's
# default order (createdAt, newest first) is stable.
SEED_EPOCH = 1_704_187_800.0


@dataclass(frozen=True, slots=True)
class LoyaltyLevel:
    """A tier of the programme; `condition_value` is points or spend, per the tier-assign type."""

    level_id: str
    name: str
    description: str
    condition_value: float
    reward: float  # a fraction: 0.15 is 15 %
    reward_name: str
    reward_code: str
    translation_id: int


LEVELS = (
    LoyaltyLevel(
        "000096cf-32a3-43bd-9034-4df343e5fd93",
        "Bronze",
        "Where every member starts",
        0,
        0.05,
        "Bronze discount",
        "bronze5",
        16,
    ),
    LoyaltyLevel(
        "e82c96cf-32a3-43bd-9034-4df343e5fd94",
        "Silver",
        "From 500 points",
        500,
        0.10,
        "Silver discount",
        "silver10",
        18,
    ),
    LoyaltyLevel(
        "f99c96cf-32a3-43bd-9034-4df343e5fd95",
        "Gold",
        "From 1500 points",
        1500,
        0.15,
        "Gold discount",
        "gold15",
        20,
    ),
    LoyaltyLevel(
        "a11c96cf-32a3-43bd-9034-4df343e5fd96",
        "Platinum",
        "From 5000 points",
        5000,
        0.20,
        "Platinum discount",
        "platinum20",
        22,
    ),
)


def level_by_id(level_id: str) -> LoyaltyLevel | None:
    return next((level for level in LEVELS if level.level_id == level_id), None)


def level_by_name(name: str) -> LoyaltyLevel | None:
    return next((level for level in LEVELS if level.name == name), None)


def earned_level(value: float) -> LoyaltyLevel:
    """The highest level whose condition the value (points or spend) meets."""
    eligible = [level for level in LEVELS if level.condition_value <= value]
    return max(eligible, key=lambda level: level.condition_value)


@dataclass(frozen=True, slots=True)
class DemoLoyaltyCustomer:
    email: str
    password: str
    first_name: str
    last_name: str
    phone: str | None
    points: float
    level_name: str


def _demo(
    first: str, last: str, password: str, phone: str | None, points: float
) -> DemoLoyaltyCustomer:
    email = f"{first.lower()}.{last.lower()}@example.com"
    level = earned_level(points).name
    return DemoLoyaltyCustomer(email, password, first, last, phone, points, level)


DEMO_CUSTOMERS = [
    _demo("Ada", "Lovelace", "loyalty-demo-pass", "+14155550101", 1720),
    _demo("Katherine", "Johnson", "loyalty-demo-pass-2", "+14155550103", 640),
    _demo("Dorothy", "Vaughan", "loyalty-demo-pass-3", None, 180),
    _demo("Alan", "Turing", "loyalty-demo-pass-4", "+14155550104", 2400),
    _demo("Edsger", "Dijkstra", "loyalty-demo-pass-5", None, 90),
    _demo("Barbara", "Liskov", "loyalty-demo-pass-6", "+14155550106", 5100),
    _demo("Donald", "Knuth", "loyalty-demo-pass-7", None, 760),
    _demo("Frances", "Allen", "loyalty-demo-pass-8", "+14155550108", 30),
    _demo("John", "Backus", "loyalty-demo-pass-9", None, 1200),
    _demo("Margaret", "Hamilton", "loyalty-demo-pass-10", "+14155550110", 3300),
    _demo("Ken", "Thompson", "loyalty-demo-pass-11", None, 0),
    _demo("Radia", "Perlman", "loyalty-demo-pass-12", "+14155550112", 410),
]
