"""Open Loyalty 4.x JSON <-> domain, as pure functions over the documented shapes.

Open Loyalty omits null keys, writes dates as `2016-08-08T10:53:14+0200`, percentages as
`"15.00%"` strings, and takes updates as form fields `customer[field]` with bracket nesting.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import Any

from customer_gateway.connectors.payload import (
    opt_address,
    opt_bool,
    opt_date,
    opt_datetime,
    opt_float,
    opt_int,
    opt_mapping,
    opt_str,
    req_mapping,
    req_str,
)
from customer_gateway.domain import (
    Address,
    Customer,
    CustomerFilter,
    CustomerStatus,
    CustomerUpdate,
    FieldProblem,
    Level,
    LoyaltyStatus,
    Token,
)

CUSTOMER_FIELDS = frozenset(
    {
        "customerId",
        "id",
        "active",
        "firstName",
        "lastName",
        "gender",
        "email",
        "phone",
        "birthDate",
        "lastLevelRecalculation",
        "loyaltyCardNumber",
        "createdAt",
        "updatedAt",
        "levelId",
        "agreement1",
        "agreement2",
        "agreement3",
        "status",
        "campaignPurchases",
        "transactionsCount",
        "transactionsAmount",
        "transactionsAmountWithoutDeliveryCosts",
        "amountExcludedForLevel",
        "averageTransactionAmount",
        "lastTransactionDate",
        "labels",
        "level",
        "version",
        "currency",
        "segments",
        "levelPercent",
        "address",
        "company",
        "posId",
        "sellerId",
        "posIdentifier",
        "manuallyAssignedLevelId",
        "firstPurchaseAt",
    }
)
CUSTOMER_EXPECTED = frozenset({"customerId", "email", "active"})

__all__ = [
    "CUSTOMER_EXPECTED",
    "CUSTOMER_FIELDS",
    "customer_from_payload",
    "customers_from_list",
    "field_problems",
    "form_fields",
    "level_from_payload",
    "list_params",
    "loyalty_status_from_payload",
    "token_claims",
    "token_from_login",
    "update_fields",
]

_STATUS = {s.value: s for s in CustomerStatus}

# Form child -> domain field (for userErrors paths).
_FIELDS = {
    "firstName": "first_name",
    "lastName": "last_name",
    "email": "email",
    "phone": "phone_number",
    "gender": "gender",
    "birthDate": "birth_date",
    "address": "address",
    "agreement2": "marketing_opt_in",
    "street": "street",
    "address1": "address2",
    "city": "city",
    "postal": "postal",
    "province": "province",
    "country": "country",
}


def token_claims(token: str) -> Mapping[str, Any]:
    """The unverified JWT payload: read for `id` and `exp`; the backend verifies the token."""
    if len(token) > 8192:  # no real token is this long; a forged one may be anything
        return {}
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, RecursionError):  # a forged token may nest anything
        return {}
    return claims if isinstance(claims, Mapping) else {}


def token_from_login(data: Any) -> Token:
    data = req_mapping(data)
    access = req_str(data, "token")
    return Token(
        access_token=access,
        refresh_token=opt_str(data, "refresh_token"),
        expires_at=opt_datetime(token_claims(access), "exp"),
    )


def _percent(value: Any) -> float | None:
    return opt_float({"v": value}, "v")


def level_from_payload(level: Mapping[str, Any]) -> Level:
    """A level from the admin list (`levelId`, legacy `id`); the reward is a fraction (0.15)."""
    reward = opt_mapping(level, "reward") or {}
    fraction = opt_float(reward, "value")
    return Level(
        id=opt_str(level, "levelId") or req_str(level, "id"),
        name=req_str(level, "name"),
        discount_percent=round(fraction * 100, 4) if fraction is not None else None,
        condition_value=opt_float(level, "conditionValue"),
    )


ADDRESS_KEYS = {
    "street": "street",
    "address2": "address1",
    "city": "city",
    "postal": "postal",
    "province": "province",
    "country": "country",
}


def _customer_level(data: Mapping[str, Any]) -> Level | None:
    level_id = opt_str(data, "levelId")
    level = opt_mapping(data, "level") or {}
    name = opt_str(level, "name")
    if level_id is None or name is None:
        return None
    return Level(id=level_id, name=name, discount_percent=_percent(data.get("levelPercent")))


def customer_from_payload(backend: str, data: Mapping[str, Any]) -> Customer:
    status = opt_mapping(data, "status") or {}
    return Customer(
        backend=backend,
        native_id=req_str(data, "customerId"),
        first_name=opt_str(data, "firstName"),
        last_name=opt_str(data, "lastName"),
        email=opt_str(data, "email"),
        phone_number=opt_str(data, "phone"),
        gender=opt_str(data, "gender"),
        birth_date=opt_date(data, "birthDate"),
        address=opt_address(opt_mapping(data, "address"), ADDRESS_KEYS),
        marketing_opt_in=opt_bool(data, "agreement2"),
        loyalty_card_number=opt_str(data, "loyaltyCardNumber"),
        active=opt_bool(data, "active"),
        status=_STATUS.get(opt_str(status, "type") or ""),
        level=_customer_level(data),
        created_at=opt_datetime(data, "createdAt"),
        updated_at=opt_datetime(data, "updatedAt"),
        raw=dict(data),
    )


def customers_from_list(backend: str, data: Any) -> tuple[list[Customer], int | None]:
    data = req_mapping(data)
    items = data.get("customers")
    rows = [c for c in items if isinstance(c, Mapping)] if isinstance(items, list) else []
    return [customer_from_payload(backend, c) for c in rows], opt_int(data, "total")


def loyalty_status_from_payload(
    data: Any, levels_by_name: Mapping[str, Level] | None = None
) -> LoyaltyStatus | None:
    """Points and levels; None when the customer has no points account (only id + currency)."""
    data = req_mapping(data)
    points = opt_float(data, "points")
    if points is None:
        return None
    known = levels_by_name or {}

    def level(name_key: str, percent_key: str, condition_key: str) -> Level | None:
        name = opt_str(data, name_key)
        if name is None:
            return None
        listed = known.get(name)
        return Level(
            id=listed.id if listed else name,
            name=name,
            discount_percent=_percent(data.get(percent_key)),
            condition_value=opt_float(data, condition_key),
        )

    return LoyaltyStatus(
        points=points,
        level=level("levelName", "level", "levelConditionValue"),
        next_level=level("nextLevelName", "nextLevel", "nextLevelConditionValue"),
        points_to_next_level=opt_float(data, "pointsToNextLevel"),
        transactions_count=opt_int(data, "transactionsCount"),
        transactions_amount=opt_float(data, "transactionsAmount"),
        currency=opt_str(data, "currency"),
    )


def form_fields(values: Mapping[str, Any], prefix: str = "customer") -> list[tuple[str, str]]:
    """`{"address": {"city": "X"}, "agreement2": True}` -> customer[address][city]=X, ...=1."""
    fields: list[tuple[str, str]] = []
    for key, value in values.items():
        name = f"{prefix}[{key}]"
        if isinstance(value, Mapping):
            fields.extend(form_fields(value, name))
        elif isinstance(value, bool):
            fields.append((name, "1" if value else "0"))
        else:
            fields.append((name, "" if value is None else str(value)))
    return fields


def update_fields(update: CustomerUpdate, current: Customer) -> dict[str, Any]:
    """Only the changed fields; an address is merged with the current one and sent whole,
    because Open Loyalty erases the address parts a partial address leaves out."""
    values: dict[str, Any] = {}
    if update.first_name is not None:
        values["firstName"] = update.first_name
    if update.last_name is not None:
        values["lastName"] = update.last_name
    if update.gender is not None:
        values["gender"] = update.gender
    if update.birth_date is not None:
        values["birthDate"] = update.birth_date.isoformat()
    if update.marketing_opt_in is not None:
        values["agreement2"] = update.marketing_opt_in
    if update.address is not None:
        old = current.address or Address()
        new = update.address
        values["address"] = {  # the whole address replaces the old one: untouched parts kept
            key: _pick(getattr(new, name), getattr(old, name)) for name, key in ADDRESS_KEYS.items()
        }
    return values


def _pick(new: str | None, old: str | None) -> str:
    return new if new is not None else (old or "")


def _walk(tree: Mapping[str, Any], path: tuple[str, ...]) -> Iterable[FieldProblem]:
    errors = tree.get("errors")
    if isinstance(errors, list):
        for message in errors:
            code = "TAKEN" if "already used" in str(message) else "INVALID"
            yield FieldProblem.of(path, code)
    children = tree.get("children")
    if isinstance(children, Mapping):
        for name, child in children.items():
            if isinstance(child, Mapping):
                field = _FIELDS.get(str(name))
                yield from _walk(child, (*path, field) if field else path)


def field_problems(body: Any) -> list[FieldProblem]:
    """A Symfony form error tree as domain problems with paths such as ("address", "postal")."""
    problems: list[FieldProblem] = []
    if isinstance(body, Mapping):
        form = body.get("form")
        if isinstance(form, Mapping):
            problems.extend(_walk(form, ()))
        problems.extend(_walk({"errors": body.get("errors")}, ()))
    return problems or [FieldProblem.of(None, "INVALID")]


def list_params(customer_filter: CustomerFilter) -> dict[str, str]:
    params = {
        "email": customer_filter.email,
        "phone": customer_filter.phone_number,
        "firstName": customer_filter.first_name,
        "lastName": customer_filter.last_name,
    }
    return {key: value for key, value in params.items() if value is not None}
