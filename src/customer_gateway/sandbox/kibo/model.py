"""The Kibo emulator's data: demo customers, accounts with contacts, ApiError bodies, filters."""

from __future__ import annotations

import math
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DEMO_APPLICATION",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_CUSTOMERS",
    "DEMO_SITE",
    "DEMO_TENANT",
    "DemoKiboCustomer",
    "KiboError",
    "KiboFilterError",
    "invalid_parameter",
    "iso",
    "matches_filter",
    "new_user_id",
    "page",
]

DEMO_TENANT = 12345
DEMO_SITE = 67890
DEMO_CLIENT_ID = "customer-gateway.demo.1.0.0.Release"
DEMO_CLIENT_SECRET = "kibo-demo-client-secret"
# What a gateway's Kibo backend needs, besides its URLs, to use the demo tenant.
DEMO_APPLICATION: dict[str, str | int] = {
    "tenant": DEMO_TENANT,
    "site": DEMO_SITE,
    "client_id": DEMO_CLIENT_ID,
    "client_secret": DEMO_CLIENT_SECRET,
}


@dataclass(frozen=True)
class DemoKiboCustomer:
    """A shopper as the back office enters one (the demo's, and those tests add)."""

    email: str
    password: str
    first_name: str = ""
    last_name: str = ""
    phone: str | None = None


DEMO_CUSTOMERS = [
    DemoKiboCustomer(
        "ada.lovelace@example.com", "kibo-demo-pass", "Ada", "Lovelace", "+14155550101"
    ),
    DemoKiboCustomer(
        "katherine.johnson@example.com", "kibo-demo-pass-2", "Katherine", "Johnson", "+14155550103"
    ),
    *(
        DemoKiboCustomer(
            f"{first.lower()}.{last.lower()}@example.com",
            f"pass-{last.lower()}",
            first,
            last,
            f"+1415555{1000 + i:04d}" if i % 3 else None,
        )
        for i, (first, last) in enumerate(
            [
                ("Alan", "Turing"),
                ("Edsger", "Dijkstra"),
                ("Barbara", "Liskov"),
                ("Donald", "Knuth"),
                ("Frances", "Allen"),
                ("John", "Backus"),
                ("Margaret", "Hamilton"),
                ("Ken", "Thompson"),
                ("Radia", "Perlman"),
                ("Dennis", "Ritchie"),
                ("Niklaus", "Wirth"),
                ("Tony", "Hoare"),
                ("Leslie", "Lamport"),
                ("Shafi", "Goldwasser"),
                ("Whitfield", "Diffie"),
                ("Martin", "Hellman"),
                ("Butler", "Lampson"),
                ("Fran", "Bilas"),
                ("Jean", "Sammet"),
                ("Adele", "Goldberg"),
                ("Alan", "Kay"),
                ("Ivan", "Sutherland"),
                ("Vint", "Cerf"),
                ("Bob", "Kahn"),
                ("Lynn", "Conway"),
            ]
        )
    ),
]


def iso(seconds: float) -> str:
    """Kibo's REST date-times: ISO-8601 UTC with a `Z` (the storefront converts to epoch ms)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class KiboError(Exception):
    """An ApiError body; the message never echoes a token or a password."""

    def __init__(self, status: int, code: str, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.parameter = status, code, message, parameter

    def body(self) -> dict[str, Any]:
        extra = [{"name": "ParameterName", "value": self.parameter}] if self.parameter else []
        return {
            "message": self.message,
            "errorCode": self.code,
            "applicationName": "Customer",
            "correlationId": secrets.token_hex(16),
            "additionalErrorData": extra,
            "items": [],
            "exceptionDetail": {
                "message": self.message,
                "source": "Mozu.Customer.WebApi",
                "stackTrace": None,
                "targetSite": None,
                "type": "Mozu.Core.Exceptions.VaeValidationException",
            },
        }


def invalid_parameter(name: str, parameter: str | None = None) -> KiboError:
    """Kibo's 400 for a missing or malformed parameter, naming it (and the header it came in)."""
    return KiboError(
        400,
        "MISSING_OR_INVALID_PARAMETER",
        f"Missing or invalid parameter: {name}",
        parameter or name,
    )


class KiboFilterError(ValueError):
    pass


_TERM = re.compile(
    r"\s*(\w+)\s+(eq|ne|sw|cont|gt|lt|ge|le)\s+('(?:[^'\\]|\\.)*'|[\w.+-]+)\s*", re.I
)
_JOIN = re.compile(r"\s+(and|or)\s+", re.I)


def _literal(text: str) -> str:
    if text.startswith("'"):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _compare(value: Any, op: str, wanted: str) -> bool:
    if isinstance(value, bool):
        actual = str(value).lower()
    elif isinstance(value, int | float):
        try:
            number = float(wanted)
        except ValueError:
            raise KiboFilterError(wanted) from None
        return {
            "eq": value == number,
            "ne": value != number,
            "gt": value > number,
            "lt": value < number,
            "ge": value >= number,
            "le": value <= number,
        }.get(op, False)
    else:
        actual = str(value or "")
    a, w = actual.casefold(), wanted.casefold()
    return {
        "eq": a == w,
        "ne": a != w,
        "sw": a.startswith(w),
        "cont": w in a,
        "gt": a > w,
        "lt": a < w,
        "ge": a >= w,
        "le": a <= w,
    }[op.lower()]


def matches_filter(account: dict[str, Any], expression: str) -> bool:
    """Kibo's filter syntax: terms like `emailAddress eq 'a@b.com'` joined by and/or."""
    fields = {"emailAddress", "firstName", "lastName", "userName", "id", "isActive", "externalId"}
    result: bool | None = None
    join = "and"
    rest = expression.strip()
    while rest:
        term = _TERM.match(rest)
        if term is None or term.group(1) not in fields:
            raise KiboFilterError(expression)
        value = _compare(account.get(term.group(1)), term.group(2), _literal(term.group(3)))
        result = (
            value if result is None else (result and value if join == "and" else result or value)
        )
        rest = rest[term.end() :]
        if rest:
            joiner = _JOIN.match(" " + rest)
            if joiner is None:
                raise KiboFilterError(expression)
            join = joiner.group(1).lower()
            rest = rest[joiner.end() - 1 :]
    return bool(result)


def page(items: list[dict[str, Any]], start_index: int, page_size: int) -> dict[str, Any]:
    """A Kibo collection: startIndex is an item offset; pageCount counts pages of pageSize."""
    return {
        "startIndex": start_index,
        "pageSize": page_size,
        "pageCount": math.ceil(len(items) / page_size) if page_size else 0,
        "totalCount": len(items),
        "items": items[start_index : start_index + page_size],
    }


def new_user_id() -> str:
    return uuid.uuid4().hex
