"""Menu's input rules, as the emulator enforces them (Laravel-style validation)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from customer_gateway.sandbox.menu.model import Account

__all__ = [
    "BIRTHDAY_DEMOGRAPHIC_ID",
    "OPT_IN_VALUES",
    "taken",
    "update_errors",
    "valid_email",
    "valid_phone",
]

# The brand's birthday demographic (brands configure their own; this is the sandbox brand's).
BIRTHDAY_DEMOGRAPHIC_ID = "7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f"

# 1 confirmed, 2 disabled, 3 pending; sent as ints or strings.
OPT_IN_VALUES = frozenset({"1", "2", "3"})

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def valid_email(value: str) -> bool:
    return bool(_EMAIL.match(value)) and len(value) <= 254


def valid_phone(value: str) -> bool:
    return bool(_E164.match(value))


def taken(accounts: Iterable[Account], key: str, value: str, me: Account) -> bool:
    folded = value.casefold()
    return any(a is not me and str(a.data[key]).casefold() == folded for a in accounts)


def update_errors(
    accounts: Iterable[Account],
    account: Account,
    body: dict[str, Any],
    auth_type: str,
    phone_unique: bool,
) -> dict[str, list[str]]:
    """Per-field messages for a `PUT /customer-accounts/{id}` body, as a 422 lists them."""
    everyone = list(accounts)
    errors: dict[str, list[str]] = {}
    for key in ("optin_status_email", "optin_status_pn", "optin_status_sms"):
        if key in body and str(body[key]) not in OPT_IN_VALUES:
            errors[key] = [f"The selected {key} is invalid."]
    if "email" in body:
        email = str(body["email"])
        if not valid_email(email):
            errors["email"] = ["The email must be a valid email address."]
        elif taken(everyone, "email", email, account):
            errors["email"] = ["The email has already been taken."]
    if "phone_number" in body:
        phone = str(body["phone_number"])
        auth_phone = auth_type == "phone"
        if not (valid_phone(phone) or (phone == "" and not auth_phone)):
            errors["phone_number"] = ["The phone number format is invalid."]
        elif (
            phone
            and (phone_unique or auth_phone)
            and taken(everyone, "phone_number", phone, account)
        ):
            errors["phone_number"] = ["The phone number has already been taken."]
    if "demographics" in body:
        errors.update(_demographic_errors(account, body["demographics"]))
    return errors


def _demographic_errors(account: Account, demographics: Any) -> dict[str, list[str]]:
    if not isinstance(demographics, list) or not all(
        isinstance(d, dict) and "demographic_id" in d and "value" in d for d in demographics
    ):
        return {"demographics": ["The demographics must be a list of {demographic_id, value}."]}
    current = next(
        (
            d
            for d in account.data["demographics"]
            if d.get("demographic_id") == BIRTHDAY_DEMOGRAPHIC_ID
        ),
        None,
    )
    for item in demographics:
        if item["demographic_id"] != BIRTHDAY_DEMOGRAPHIC_ID:
            continue
        if current is not None and current.get("value") != item["value"]:
            return {"demographics": ["The birthday cannot be changed once set."]}
    return {}
