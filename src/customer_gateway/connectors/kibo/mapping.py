"""Kibo Commerce JSON <-> domain, as pure functions over the documented shapes.

Kibo keeps phone numbers and addresses on contacts, not on the account: the gateway's phone
number is the primary contact's mobile (then home, then work) number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from customer_gateway.connectors.payload import (
    opt_address,
    opt_bool,
    opt_datetime,
    opt_int,
    opt_mapping,
    opt_str,
    req_mapping,
    req_str,
)
from customer_gateway.domain import (
    Address,
    AuthResult,
    Customer,
    CustomerFilter,
    CustomerPage,
    CustomerStatus,
    CustomerUpdate,
    Token,
)

ACCOUNT_FIELDS = frozenset(
    {
        "id",
        "userId",
        "userName",
        "emailAddress",
        "firstName",
        "lastName",
        "localeCode",
        "acceptsMarketing",
        "isActive",
        "isLocked",
        "isAnonymous",
        "hasExternalPassword",
        "companyOrOrganization",
        "taxExempt",
        "taxId",
        "externalId",
        "customerSet",
        "accountType",
        "customerSinceDate",
        "auditInfo",
        "commerceSummary",
        "contacts",
        "attributes",
        "notes",
        "segments",
        "migrationRequired",
        "last2FaDate",
    }
)
ACCOUNT_EXPECTED = frozenset({"id", "emailAddress", "firstName", "lastName"})

__all__ = [
    "ACCOUNT_EXPECTED",
    "ACCOUNT_FIELDS",
    "account_with_email",
    "account_with_update",
    "auth_result_from_ticket",
    "contact_with_phone",
    "customer_from_account",
    "filter_expression",
    "page_from_collection",
    "primary_contact",
    "token_from_ticket",
]


def primary_contact(contacts: Any) -> Mapping[str, Any] | None:
    """The contact marked primary in any of its types, else the first one."""
    if not isinstance(contacts, Sequence) or isinstance(contacts, str):
        return None
    usable = [c for c in contacts if isinstance(c, Mapping)]
    for contact in usable:
        types = contact.get("types")
        if isinstance(types, Sequence) and any(
            isinstance(t, Mapping) and t.get("isPrimary") is True for t in types
        ):
            return contact
    return usable[0] if usable else None


def _phone(contact: Mapping[str, Any] | None) -> str | None:
    numbers = opt_mapping(contact, "phoneNumbers") if contact else None
    if numbers is None:
        return None
    return opt_str(numbers, "mobile") or opt_str(numbers, "home") or opt_str(numbers, "work")


ADDRESS_KEYS = {
    "street": "address1",
    "address2": "address2",
    "city": "cityOrTown",
    "postal": "postalOrZipCode",
    "province": "stateOrProvince",
    "country": "countryCode",
}


def _address(contact: Mapping[str, Any] | None) -> Address | None:
    return opt_address(opt_mapping(contact, "address") if contact else None, ADDRESS_KEYS)


def customer_from_account(backend: str, account: Mapping[str, Any]) -> Customer:
    contact = primary_contact(account.get("contacts"))
    audit = opt_mapping(account, "auditInfo") or {}
    active = opt_bool(account, "isActive")
    locked = opt_bool(account, "isLocked")
    if active is False or locked is True:
        status: CustomerStatus | None = CustomerStatus.BLOCKED
    elif active is True:
        status = CustomerStatus.ACTIVE
    else:
        status = None
    return Customer(
        backend=backend,
        native_id=str(opt_int(account, "id") or req_str(account, "id")),
        first_name=opt_str(account, "firstName"),
        last_name=opt_str(account, "lastName"),
        email=opt_str(account, "emailAddress"),
        phone_number=_phone(contact),
        locale=opt_str(account, "localeCode"),
        address=_address(contact),
        marketing_opt_in=opt_bool(account, "acceptsMarketing"),
        active=active,
        status=status,
        created_at=opt_datetime(audit, "createDate") or opt_datetime(account, "customerSinceDate"),
        updated_at=opt_datetime(audit, "updateDate"),
        raw=dict(account),
    )


def token_from_ticket(ticket: Mapping[str, Any]) -> Token:
    """`accessToken` is Kibo's opaque shopper token (not the JWT); the refresh token rotates."""
    return Token(
        access_token=req_str(ticket, "accessToken"),
        refresh_token=opt_str(ticket, "refreshToken"),
        expires_at=opt_datetime(ticket, "accessTokenExpiration"),
        refresh_expires_at=opt_datetime(ticket, "refreshTokenExpiration"),
    )


def auth_result_from_ticket(backend: str, ticket: Any) -> AuthResult:
    ticket = req_mapping(ticket)
    return AuthResult(
        token=token_from_ticket(ticket),
        customer=customer_from_account(backend, req_mapping(ticket, "customerAccount")),
    )


def account_with_update(account: Mapping[str, Any], update: CustomerUpdate) -> dict[str, Any]:
    """The whole account with the changed fields applied: Kibo's PUT replaces what it gets."""
    body = dict(account)
    if update.first_name is not None:
        body["firstName"] = update.first_name
    if update.last_name is not None:
        body["lastName"] = update.last_name
    if update.locale is not None:
        body["localeCode"] = update.locale
    if update.marketing_opt_in is not None:
        body["acceptsMarketing"] = update.marketing_opt_in
    return body


def account_with_email(account: Mapping[str, Any], email: str) -> dict[str, Any]:
    """A new email; the login name follows it when it was the old email (the usual setup)."""
    body = dict(account)
    old = opt_str(account, "emailAddress")
    body["emailAddress"] = email
    if old is not None and opt_str(account, "userName") == old:
        body["userName"] = email
    return body


def contact_with_phone(
    contact: Mapping[str, Any] | None, account: Mapping[str, Any], phone: str
) -> dict[str, Any]:
    """The primary contact with a new mobile number, or a new primary contact holding it."""
    if contact is not None:
        body = dict(contact)
        numbers = dict(opt_mapping(contact, "phoneNumbers") or {})
        numbers["mobile"] = phone
        body["phoneNumbers"] = numbers
        return body
    return {
        "accountId": opt_int(account, "id"),
        "firstName": opt_str(account, "firstName"),
        "lastNameOrSurname": opt_str(account, "lastName"),
        "email": opt_str(account, "emailAddress"),
        "types": [{"name": "Billing", "isPrimary": True}],
        "phoneNumbers": {"home": None, "mobile": phone, "work": None},
    }


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def filter_expression(customer_filter: CustomerFilter) -> str | None:
    """Kibo's filter syntax (`emailAddress eq 'a@b.com' and lastName sw 'Lo'`)."""
    parts = []
    if customer_filter.email is not None:
        parts.append(f"emailAddress eq {_quoted(customer_filter.email)}")
    if customer_filter.first_name is not None:
        parts.append(f"firstName sw {_quoted(customer_filter.first_name)}")
    if customer_filter.last_name is not None:
        parts.append(f"lastName sw {_quoted(customer_filter.last_name)}")
    return " and ".join(parts) or None


def page_from_collection(backend: str, collection: Any, offset: int) -> CustomerPage:
    collection = req_mapping(collection)
    items = collection.get("items")
    accounts = [a for a in items if isinstance(a, Mapping)] if isinstance(items, list) else []
    return CustomerPage(
        customers=tuple(customer_from_account(backend, a) for a in accounts),
        offset=opt_int(collection, "startIndex") or offset,
        total=opt_int(collection, "totalCount"),
    )
