"""Contacts of a Kibo account: where a shopper's phone numbers live (accounts have none).

A new contact starts from the account's name and email; a primary one takes the flag from the
others; writes never touch `id`, `accountId` or `auditInfo`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["READ_ONLY", "new_contact", "take_primary", "update_contact"]

READ_ONLY = ("id", "accountId", "auditInfo")


def new_contact(
    account: dict[str, Any], body: dict[str, Any], contact_id: int, now: str
) -> dict[str, Any]:
    """A contact of the account (its data), as Kibo stores one posted with `body`."""
    contact = {
        "accountId": account["id"],
        "types": [{"name": "Billing", "isPrimary": False}],
        "id": contact_id,
        "email": account["emailAddress"],
        "firstName": account["firstName"],
        "middleNameOrInitial": None,
        "lastNameOrSurname": account["lastName"],
        "companyOrOrganization": None,
        "faxNumber": None,
        "label": None,
        "phoneNumbers": {"home": None, "mobile": None, "work": None},
        "address": None,
        "auditInfo": {
            "createDate": now,
            "createBy": "sandbox",
            "updateDate": now,
            "updateBy": "sandbox",
        },
    }
    contact.update({k: v for k, v in body.items() if k not in READ_ONLY})
    return contact


def take_primary(contacts: list[dict[str, Any]], body: dict[str, Any]) -> None:
    """A contact posted as primary takes the flag from every other contact."""
    if any(t.get("isPrimary") for t in body.get("types") or []):
        for contact in contacts:
            contact["types"] = [{**t, "isPrimary": False} for t in contact["types"]]


def update_contact(contact: dict[str, Any], body: dict[str, Any], now: str) -> None:
    """A PUT of one contact: the writable keys replaced, its update date moved."""
    contact.update({k: v for k, v in body.items() if k not in READ_ONLY})
    contact["auditInfo"] = {**contact["auditInfo"], "updateDate": now}
