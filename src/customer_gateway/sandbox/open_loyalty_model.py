"""The Open Loyalty emulator's data: levels, customers, their JSON and the form rules.

Faithful details: null keys are omitted, dates are `Y-m-d\\TH:i:sO` (`+0000`), percentages are
`"15.00%"` strings from a reward fraction, and form errors list every child (`{}` when valid).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DEMO_CUSTOMERS",
    "FORM_FIELDS",
    "LEVELS",
    "DemoLoyaltyCustomer",
    "LoyaltyCustomer",
    "LoyaltyLevel",
    "form_errors",
    "new_customer_id",
    "parse_brackets",
    "percent",
    "timestamp",
]


@dataclass(frozen=True)
class LoyaltyLevel:
    level_id: str
    name: str
    description: str
    condition_value: float
    reward: float  # a fraction: 0.15 is 15 %

    def admin_view(self) -> dict[str, Any]:
        return {
            "levelId": self.level_id,
            "name": self.name,
            "description": self.description,
            "hasPhoto": False,
            "active": True,
            "conditionValue": self.condition_value,
            "reward": {"name": f"{self.name} discount", "value": self.reward, "code": "discount"},
            "specialRewards": [],
            "translations": [
                {"name": self.name, "description": self.description, "id": 16, "locale": "en"}
            ],
        }


LEVELS = (
    LoyaltyLevel("000096cf-32a3-43bd-9034-4df343e5fd93", "Bronze", "Welcome level", 0, 0.05),
    LoyaltyLevel("e82c96cf-32a3-43bd-9034-4df343e5fd94", "Silver", "From 500 points", 500, 0.10),
    LoyaltyLevel("f99c96cf-32a3-43bd-9034-4df343e5fd95", "Gold", "From 1500 points", 1500, 0.15),
    LoyaltyLevel(
        "a11c96cf-32a3-43bd-9034-4df343e5fd96", "Platinum", "From 5000 points", 5000, 0.20
    ),
)


@dataclass(frozen=True)
class DemoLoyaltyCustomer:
    email: str
    password: str
    first_name: str
    last_name: str
    phone: str | None
    points: float


DEMO_CUSTOMERS = [
    DemoLoyaltyCustomer("ada.lovelace@example.com", "loyalty-demo-pass", "Ada", "Lovelace",
                        "+14155550101", 1720),
    DemoLoyaltyCustomer("katherine.johnson@example.com", "loyalty-demo-pass-2", "Katherine",
                        "Johnson", "+14155550103", 640),
    DemoLoyaltyCustomer("dorothy.vaughan@example.com", "loyalty-demo-pass-3", "Dorothy",
                        "Vaughan", None, 180),
    *(
        DemoLoyaltyCustomer(f"{first.lower()}.{last.lower()}@example.com", f"pass-{first.lower()}",
                            first, last, None, points)
        for first, last, points in (
            ("Alan", "Turing", 2400), ("Edsger", "Dijkstra", 90), ("Barbara", "Liskov", 5100),
            ("Donald", "Knuth", 760), ("Frances", "Allen", 30), ("John", "Backus", 1200),
            ("Margaret", "Hamilton", 3300), ("Ken", "Thompson", 0), ("Radia", "Perlman", 410),
        )
    ),
]  # fmt: skip


def timestamp(seconds: float) -> str:
    """Open Loyalty's date format: ISO-8601 with a colon-less offset."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def percent(fraction: float) -> str:
    return f"{fraction * 100:.2f}%"


@dataclass
class LoyaltyCustomer:
    customer_id: str
    fields: dict[str, Any]  # firstName, lastName, email, phone, gender, birthDate, address, ...
    password: str
    points: float
    created_at: float
    updated_at: float
    active: bool = True
    manual_level_id: str | None = None
    transactions_count: int = 0
    transactions_amount: float = 0.0
    pending_phone: tuple[str, str] | None = None  # (new phone, code)
    version: int = 1
    refresh_tokens: set[str] = field(default_factory=set)

    def level(self) -> LoyaltyLevel:
        if self.manual_level_id is not None:
            return next(lv for lv in LEVELS if lv.level_id == self.manual_level_id)
        eligible = [lv for lv in LEVELS if lv.condition_value <= self.points]
        return max(eligible, key=lambda lv: lv.condition_value)

    def view(self) -> dict[str, Any]:
        """The customer object: every documented key, nulls left out."""
        level = self.level()
        data: dict[str, Any] = {
            "customerId": self.customer_id,
            "active": self.active,
            **{k: v for k, v in self.fields.items() if v not in (None, "", {})},
            "createdAt": timestamp(self.created_at),
            "levelId": level.level_id,
            "agreement1": bool(self.fields.get("agreement1", False)),
            "agreement2": bool(self.fields.get("agreement2", False)),
            "agreement3": bool(self.fields.get("agreement3", False)),
            "status": {
                "availableTypes": ["new", "active", "blocked", "deleted"],
                "availableStates": ["no-card", "card-sent", "with-card"],
                "type": "active" if self.active else "blocked",
                "state": "with-card" if self.fields.get("loyaltyCardNumber") else "no-card",
            },
            "updatedAt": timestamp(self.updated_at),
            "campaignPurchases": [],
            "transactionsCount": self.transactions_count,
            "transactionsAmount": self.transactions_amount,
            "transactionsAmountWithoutDeliveryCosts": self.transactions_amount,
            "amountExcludedForLevel": 0,
            "averageTransactionAmount": (
                self.transactions_amount / self.transactions_count if self.transactions_count else 0
            ),
            "labels": [],
            "level": {
                "levelId": {"id": level.level_id, "levelId": level.level_id},
                "name": level.name,
                "translations": {"en": {"name": level.name}},
            },
            "version": self.version,
            "currency": "eur",
            "segments": [],
            "levelPercent": percent(level.reward),
        }
        if self.manual_level_id is not None:
            data["manuallyAssignedLevelId"] = self.manual_level_id
        return data


# The customer form: field -> child names (None for a plain field). Every child is listed in
# error trees, as Symfony does.
FORM_FIELDS: dict[str, tuple[str, ...] | None] = {
    "firstName": None, "lastName": None, "gender": None, "email": None, "phone": None,
    "birthDate": None, "createdAt": None,
    "address": ("street", "address1", "address2", "province", "city", "postal", "country"),
    "company": ("name", "nip"),
    "loyaltyCardNumber": None, "labels": None, "agreement1": None, "agreement2": None,
    "agreement3": None, "referral_customer_email": None, "levelId": None, "posId": None,
    "sellerId": None,
}  # fmt: skip

_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_brackets(items: list[tuple[str, str]], root: str = "customer") -> dict[str, Any]:
    """`customer[address][city]=X` form pairs -> {"address": {"city": "X"}}."""
    result: dict[str, Any] = {}
    for key, value in items:
        parts = re.findall(r"\[([^\]]*)\]", key)
        if not key.startswith(root + "[") or not parts:
            continue
        node = result
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[parts[-1]] = value
    return result


def form_errors(
    values: dict[str, Any],
    *,
    taken: dict[str, bool],
    required: tuple[str, ...] = (),
) -> dict[str, Any] | None:
    """The Symfony error tree for a submitted customer form, or None when it is valid."""
    children: dict[str, Any] = {}
    failed = False
    for name, sub in FORM_FIELDS.items():
        if sub is not None:
            raw = values.get(name)
            nested: dict[str, Any] = raw if isinstance(raw, dict) else {}
            children[name] = {"children": {child: {} for child in sub}}
            postal = str(nested.get("postal") or "")
            if name == "address" and postal and not re.match(r"^[0-9A-Za-z -]{3,10}$", postal):
                children[name]["children"]["postal"] = {"errors": ["This value is not valid."]}
                failed = True
            continue
        messages = _field_errors(name, values, taken, required)
        children[name] = {"errors": messages} if messages else {}
        failed = failed or bool(messages)
    return {"form": {"children": children}, "errors": []} if failed else None


def _field_errors(
    name: str, values: dict[str, Any], taken: dict[str, bool], required: tuple[str, ...]
) -> list[str]:
    value = values.get(name)
    if name in required and not value:
        return ["This value should not be blank."]
    if name not in values or value in (None, ""):
        return []
    text = str(value)
    if name == "email" and not _EMAIL.match(text):
        return ["This value is not a valid email address."]
    if name == "phone" and not _PHONE.match(text):
        return ["This value is not a valid phone number."]
    if name == "birthDate" and not _DATE.match(text):
        return ["This value is not valid."]
    if name == "gender" and text not in ("male", "female", "not_disclosed"):
        return ["The value you selected is not a valid choice."]
    if taken.get(name):
        return ["This value is already used."]
    return []


def new_customer_id() -> str:
    return str(uuid.uuid4())
