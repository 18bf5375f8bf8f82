"""The Open Loyalty emulator's customer record and the JSON views Open Loyalty renders of it.

Faithful details a connector must cope with: null keys are omitted (JMS serializer), dates are
`Y-m-d\\TH:i:sO` (`+0000`, no colon), percentages are `"15.00%"` strings made from a reward
fraction, the status has no `nextLevel*` keys at the top level and only the next-level distance of
the tier-assign type in use, `averageTransactionsAmount` is a string, and a customer without a
points account gets a status with names, id and currency only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from customer_gateway.sandbox.open_loyalty.seed import (
    LEVELS,
    LoyaltyLevel,
    earned_level,
    level_by_id,
)

__all__ = [
    "CURRENCY",
    "LoyaltyCustomer",
    "TierAssignType",
    "customer_view",
    "level_admin_view",
    "level_customer_view",
    "number",
    "percent",
    "status_view",
    "timestamp",
]

TierAssignType = Literal["points", "transactions"]
CURRENCY = "eur"
_ADDRESS_ORDER = ("street", "address1", "address2", "province", "city", "postal", "country")


def timestamp(seconds: float) -> str:
    """Open Loyalty's date format: ISO-8601 with a colon-less offset."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def percent(fraction: float) -> str:
    """PHP's `number_format($reward * 100, 2) . '%'`."""
    return f"{fraction * 100:.2f}%"


def number(value: float) -> float | int:
    """Whole numbers as JSON integers (`3`, not `3.0`), as the vendor's examples show them."""
    return int(value) if float(value).is_integer() else value


@dataclass
class LoyaltyCustomer:
    """One customer as the emulator stores it; `profile` holds the form fields that are set."""

    customer_id: str
    password: str
    created_at: float
    updated_at: float
    profile: dict[str, Any] = field(default_factory=dict)
    active: bool = True
    points: float = 0.0
    has_account: bool = False  # a points account; Open Loyalty opens one on registration
    transactions_count: int = 0
    transactions_amount: float = 0.0
    manual_level_id: str | None = None
    pending_phone: tuple[str, str] | None = None  # (new phone, SMS code)
    last_login_at: float | None = None
    version: int = 1

    def get(self, key: str) -> Any:
        return self.profile.get(key)

    def level(self, tier: TierAssignType) -> LoyaltyLevel:
        """The manually assigned level, or the one the points (or spend) earn."""
        manual = level_by_id(self.manual_level_id) if self.manual_level_id else None
        return manual or earned_level(self.condition_value(tier))

    def condition_value(self, tier: TierAssignType) -> float:
        return self.points if tier == "points" else self.transactions_amount

    def average_transaction(self) -> float:
        count = self.transactions_count
        return self.transactions_amount / count if count else 0.0


def _present(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def _address(customer: LoyaltyCustomer) -> dict[str, str] | None:
    address = customer.get("address")
    if not address:
        return None
    return {key: address[key] for key in _ADDRESS_ORDER if address.get(key)}


def customer_view(
    customer: LoyaltyCustomer, tier: TierAssignType, *, detail: bool = True
) -> dict[str, Any]:
    """The customer object (key order as in the vendor's example); nulls left out.

    List rows (`detail=False`) lack `segments`, which the vendor adds only on the detail read.
    """
    level = customer.level(tier)
    birth = customer.get("birthDate")
    last_transaction = customer.created_at + 3600 if customer.transactions_count else None
    return _present(
        {
            "customerId": customer.customer_id,
            "active": customer.active,
            "firstName": customer.get("firstName"),
            "lastName": customer.get("lastName"),
            "gender": customer.get("gender"),
            "email": customer.get("email"),
            "phone": customer.get("phone"),
            "birthDate": f"{birth}T00:00:00+0000" if birth else None,
            "address": _address(customer),
            "company": customer.get("company"),
            "loyaltyCardNumber": customer.get("loyaltyCardNumber"),
            "createdAt": timestamp(customer.created_at),
            "levelId": level.level_id,
            "agreement1": bool(customer.get("agreement1")),
            "agreement2": bool(customer.get("agreement2")),
            "agreement3": bool(customer.get("agreement3")),
            "status": {
                "availableTypes": ["new", "active", "blocked", "deleted"],
                "availableStates": ["no-card", "card-sent", "with-card"],
                "type": "active" if customer.active else "blocked",
                "state": "with-card" if customer.get("loyaltyCardNumber") else "no-card",
            },
            "updatedAt": timestamp(customer.updated_at),
            "campaignPurchases": [],
            "transactionsCount": customer.transactions_count,
            "transactionsAmount": number(customer.transactions_amount),
            "transactionsAmountWithoutDeliveryCosts": number(customer.transactions_amount),
            "amountExcludedForLevel": 0,
            "averageTransactionAmount": number(customer.average_transaction()),
            "lastTransactionDate": timestamp(last_transaction) if last_transaction else None,
            "labels": customer.get("labels") or [],
            "level": {
                "levelId": {"id": level.level_id, "levelId": level.level_id},
                "name": level.name,
                "translations": {"en": {"name": level.name}},
            },
            "version": customer.version,
            "currency": CURRENCY,
            "segments": [] if detail else None,
            "levelPercent": percent(level.reward),
            "posId": customer.get("posId"),
            "sellerId": customer.get("sellerId"),
            "manuallyAssignedLevelId": customer.manual_level_id,
        }
    )


def status_view(
    customer: LoyaltyCustomer, tier: TierAssignType, *, own: bool = False
) -> dict[str, Any]:
    """`GET …/customer/<c>/status`; `own` is the customer's own view (adds p2p and expiry keys)."""
    names = {"firstName": customer.get("firstName"), "lastName": customer.get("lastName")}
    if not customer.has_account:
        return _present({**names, "customerId": customer.customer_id, "currency": CURRENCY})
    level = customer.level(tier)
    higher = [lv for lv in LEVELS if lv.condition_value > level.condition_value]
    upcoming = min(higher, key=lambda lv: lv.condition_value) if higher else None
    amount = customer.transactions_amount
    data: dict[str, Any] = {
        **names,
        "customerId": customer.customer_id,
        "points": number(customer.points),
        "p2pPoints": 0 if own else None,
        "totalEarnedPoints": number(customer.points),
        "usedPoints": 0,
        "expiredPoints": 0,
        "lockedPoints": 0,
        "level": percent(level.reward),
        "levelName": level.name,
        "levelConditionValue": number(level.condition_value),
    }
    if upcoming is not None:
        data["nextLevel"] = percent(upcoming.reward)
        data["nextLevelName"] = upcoming.name
        data["nextLevelConditionValue"] = number(upcoming.condition_value)
    data["transactionsAmountWithoutDeliveryCosts"] = number(amount)
    if upcoming is not None and tier == "transactions":
        # Delivery costs are not excluded in the emulated programme, hence no
        # `transactionsAmountToNextLevelWithoutDeliveryCosts`.
        data["transactionsAmountToNextLevel"] = number(upcoming.condition_value - amount)
    data["averageTransactionsAmount"] = f"{customer.average_transaction():.2f}"
    data["transactionsCount"] = customer.transactions_count
    data["transactionsAmount"] = number(amount)
    if upcoming is not None and tier == "points":
        data["pointsToNextLevel"] = number(upcoming.condition_value - customer.points)
    data["currency"] = CURRENCY
    data["pointsExpiringNextMonth"] = 0
    if own:
        data["pointsExpiringBreakdown"] = []  # PHP serialises an empty map as a JSON list
    return _present(data)


def level_admin_view(level: LoyaltyLevel) -> dict[str, Any]:
    """A level as the admin list and details show it (4.x `levelId`, reward as a fraction)."""
    return {
        "levelId": level.level_id,
        "name": level.name,
        "description": level.description,
        "hasPhoto": False,
        "active": True,
        "conditionValue": number(level.condition_value),
        "reward": {"name": level.reward_name, "value": level.reward, "code": level.reward_code},
        "specialRewards": [],
        "translations": [
            {
                "name": level.name,
                "description": level.description,
                "id": level.translation_id,
                "locale": "en",
            }
        ],
    }


def level_customer_view(level: LoyaltyLevel) -> dict[str, Any]:
    """The customer-facing level: no id and no reward."""
    return {
        "name": level.name,
        "description": level.description,
        "conditionValue": number(level.condition_value),
        "hasPhoto": False,
    }
