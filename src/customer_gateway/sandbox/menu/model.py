"""The Menu emulator's data: demo customers, accounts, key sets and the error envelope."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from starlette.responses import JSONResponse

__all__ = [
    "DEMO_APPLICATION_KEY",
    "DEMO_CUSTOMERS",
    "LOGIN_TTL_MIN",
    "PRV",
    "REFRESH_ISSUED_TTL_MIN",
    "REFRESH_KEYS",
    "REFRESH_TTL_MIN",
    "UPDATE_KEYS",
    "Account",
    "DemoCustomer",
    "MenuError",
    "Pending",
    "ok",
]

DEMO_APPLICATION_KEY = "5b1f0c9e2a7d4e8f9a3c6b0d1e2f3a4b"
LOGIN_TTL_MIN = 60
REFRESH_ISSUED_TTL_MIN = 1440
REFRESH_TTL_MIN = 2628000
PRV = "cc32921a15480a117d9bbc72c0e1256a6852458b"

# Key sets per endpoint, as in the vendor's examples.
_SETTINGS_KEYS = (
    "locale",
    "state",
    "demographics",
    "optin_status_email",
    "optin_status_pn",
    "has_pending_email_change",
    "has_pending_phone_number_change",
    "is_social",
)
_NAME_KEYS = ("first_name", "last_name", "email")
REFRESH_KEYS = ("id", "type_id", *_NAME_KEYS, "confirmed", "phone_number", *_SETTINGS_KEYS)
UPDATE_KEYS = (
    "id",
    "type_id",
    "reference_type",
    *_NAME_KEYS,
    "phone_number",
    *_SETTINGS_KEYS,
    "social_login",
    "updated_at",
    "created_at",
)


@dataclass(frozen=True)
class DemoCustomer:
    email: str
    password: str
    first_name: str
    last_name: str
    phone_number: str
    locale: str


DEMO_CUSTOMERS = [
    DemoCustomer(
        "ada.lovelace@example.com", "menu-demo-pass", "Ada", "Lovelace", "+14155550101", "en"
    ),
    DemoCustomer(
        "grace.hopper@example.com", "menu-demo-pass-2", "Grace", "Hopper", "+14155550102", "en-US"
    ),
]


@dataclass
class Pending:
    value: str
    code: str
    expires_at: float
    attempts: int = 0


@dataclass
class Account:
    data: dict[str, Any]
    password: str
    internal_id: int
    pending: dict[str, Pending] = field(default_factory=dict)  # "email" | "phone_number"


class MenuError(Exception):
    NAMES: ClassVar[dict[int, str]] = {
        400: "BAD_REQUEST",
        401: "UNAUTHORIZED",
        403: "FORBIDDEN",
        404: "NOT_FOUND",
        422: "UNPROCESSABLE_ENTITY",
    }

    def __init__(self, status: int, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors or {}

    def response(self) -> JSONResponse:
        body = {
            "status": self.NAMES.get(self.status, "ERROR"),
            "code": self.status,
            "message": self.message,
            "errors": self.errors,
        }
        return JSONResponse(body, status_code=self.status)


def ok(data: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"status": "OK", "code": 200}
    if data is not None:
        body["data"] = data
    return JSONResponse(body)
