"""The customer form of the Open Loyalty emulator: bracket parsing, validation, the error tree.

Open Loyalty takes `customer[field]=…` (nested `customer[address][city]`, booleans `1`/`0`) and
submits it with `$form->submit($data, false)`: an omitted field is left alone, an included empty
one is erased, and `address`/`company` are replaced whole. A failing form answers 400 with the
Symfony tree that lists **every** child (`{}` when valid) and a top-level `"errors": []`; a form
that was not submitted at all answers the same tree without any message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl

import phonenumbers
from starlette.requests import Request

from customer_gateway.sandbox.open_loyalty.auth import OpenLoyaltyError
from customer_gateway.sandbox.open_loyalty.seed import level_by_id

__all__ = [
    "ADDRESS_CHILDREN",
    "REGISTER_CHILDREN",
    "UPDATE_CHILDREN",
    "PartialCompanyError",
    "Submission",
    "form_to_tree",
    "json_to_form",
    "request_params",
    "submit_customer_form",
]

BLANK = "This value should not be blank."
INVALID = "This value is not valid."
TAKEN = "This value is already used."
BAD_EMAIL = "This value is not a valid email address."
BAD_PHONE = "This value is not a valid phone number."
NOT_NUMERIC = "Incorrect phone number format, use +00000000000"
EXTRA = "This form should not contain extra fields."

ADDRESS_CHILDREN = ("street", "address1", "address2", "postal", "city", "province", "country")
COMPANY_CHILDREN = ("name", "nip")
# Child order as in the vendor's error examples (register and update differ: only the update
# form lists `labels`). `levelId`, `posId` and `sellerId` exist only in an admin's form.
REGISTER_CHILDREN = (
    "firstName", "lastName", "gender", "email", "phone", "birthDate", "createdAt", "address",
    "company", "loyaltyCardNumber", "agreement1", "agreement2", "agreement3", "levelId", "posId",
    "sellerId",
)  # fmt: skip
UPDATE_CHILDREN = (
    *REGISTER_CHILDREN[:10], "labels", *REGISTER_CHILDREN[10:]
)  # fmt: skip
_ADMIN_ONLY = frozenset({"levelId", "posId", "sellerId"})
# Documented parameters that the example trees leave out; accepted, never listed.
_UNLISTED = frozenset({"labels", "invitationToken", "referral_customer_email"})
_COMPOUND = {"address": ADDRESS_CHILDREN, "company": COMPANY_CHILDREN}
_REQUIRED_ON_REGISTER = frozenset({"firstName", "lastName", "email", "agreement1"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NUMERIC = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")  # PHP is_numeric
_POSTAL = re.compile(r"^[0-9A-Za-z][0-9A-Za-z -]{1,9}$")
_TRUE = frozenset({"1", "true", "on", "yes"})
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\]]*\])+)$")


class PartialCompanyError(Exception):
    """A company with only a name or only a NIP: Open Loyalty fails with HTTP 500 (documented)."""


@dataclass(frozen=True, slots=True)
class Submission:
    """What a valid form changes (field -> value, None erases), or the error tree."""

    changes: dict[str, Any]
    errors: dict[str, Any] | None


def form_to_tree(body: str) -> dict[str, Any]:
    """`customer[address][city]=X&_username=u` -> {"customer": {"address": {"city": "X"}}, ...}."""
    tree: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):  # `customer[phone]=` erases
        match = _KEY.match(key)
        parts = [match[1], *re.findall(r"\[([^\]]*)\]", match[2])] if match else [key]
        node = tree
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return tree


async def request_params(request: Request) -> dict[str, Any]:
    """Form fields, or a JSON object as FOSRest's body listener decodes it into them."""
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        return form_to_tree(body.decode("utf-8", "replace"))
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise OpenLoyaltyError.framework(400, "Bad Request") from None
    if not isinstance(data, dict):
        raise OpenLoyaltyError.framework(400, "Bad Request")
    converted: dict[str, Any] = json_to_form(data)
    return converted


def json_to_form(value: Any) -> Any:
    """A JSON body as FOSRest's body listener hands it to the form: scalars become strings."""
    if isinstance(value, dict):
        return {str(k): json_to_form(v) for k, v in value.items()}
    if isinstance(value, list):
        return {str(i): json_to_form(v) for i, v in enumerate(value)}
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)


def submit_customer_form(
    values: Any,
    *,
    register: bool,
    admin: bool,
    taken: Callable[[str, str], bool],
) -> Submission:
    """Validate a submitted `customer` form; `taken(field, value)` checks uniqueness."""
    children = [
        name
        for name in (REGISTER_CHILDREN if register else UPDATE_CHILDREN)
        if admin or name not in _ADMIN_ONLY
    ]
    if not isinstance(values, dict):  # nothing submitted: Symfony's invalid, message-less form
        return Submission({}, _tree(children, {}, []))
    known = {*children, *_UNLISTED}
    top_errors = [EXTRA] if any(key not in known for key in values) else []
    errors: dict[str, list[str] | dict[str, list[str]]] = {}
    changes: dict[str, Any] = {}
    for name in [*children, *sorted(_UNLISTED.difference(children))]:
        if name not in values:
            if register and name in _REQUIRED_ON_REGISTER:
                errors[name] = [BLANK]
            continue
        value, problems = _field(name, values[name], register=register, taken=taken)
        if problems:
            errors[name] = problems
        else:
            changes[name] = value
    if any(name not in children for name in errors):  # an unlisted child cannot show its own
        top_errors.append(INVALID)
    if errors or top_errors:
        return Submission({}, _tree(children, errors, top_errors))
    company = changes.get("company")
    if company is not None:
        if len(company) == 1:
            raise PartialCompanyError
        changes["company"] = {key: text for key, text in company.items() if text}
    return Submission(changes, None)


def _tree(
    children: list[str],
    errors: dict[str, list[str] | dict[str, list[str]]],
    top_errors: list[str],
) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name in children:
        found = errors.get(name)
        if name in _COMPOUND:
            nested = found if isinstance(found, dict) else {}
            node: dict[str, Any] = {"errors": nested["."]} if "." in nested else {}
            node["children"] = {
                child: {"errors": nested[child]} if child in nested else {}
                for child in _COMPOUND[name]
            }
            tree[name] = node
        else:
            tree[name] = {"errors": found} if isinstance(found, list) else {}
    return {"form": {"children": tree}, "errors": top_errors}


def _field(
    name: str, raw: Any, *, register: bool, taken: Callable[[str, str], bool]
) -> tuple[Any, list[str] | dict[str, list[str]]]:
    """(normalised value, messages) for one submitted child; "" erases (None)."""
    if name in _COMPOUND:
        return _compound(name, raw)
    if isinstance(raw, dict):
        return None, [INVALID]
    text = str(raw).strip() if name != "labels" else str(raw)
    if name.startswith("agreement"):
        checked = text.lower() in _TRUE
        return checked, [BLANK] if register and name == "agreement1" and not checked else []
    if text == "":
        return None, [BLANK] if register and name in _REQUIRED_ON_REGISTER else []
    checks: dict[str, Callable[[str], tuple[Any, list[str]]]] = {
        "email": _email,
        "phone": _phone,
        "gender": lambda v: (v, [] if v in ("male", "female", "not_disclosed") else [INVALID]),
        "birthDate": _birth_date,
        "createdAt": _created_at,
        "labels": _labels,
        "levelId": lambda v: (v, [] if level_by_id(v) else [INVALID]),
        "posId": lambda v: (v, [INVALID]),  # no points of sale in the emulated programme
        "sellerId": lambda v: (v, [INVALID]),  # nor sellers
    }
    value, problems = checks[name](text) if name in checks else (text, [])
    if not problems and name in ("email", "phone", "loyaltyCardNumber") and taken(name, value):
        problems = [TAKEN]
    return value, problems


def _compound(name: str, raw: Any) -> tuple[Any, dict[str, list[str]]]:
    if not isinstance(raw, dict):  # `customer[address]=` erases; a scalar is not an address
        return None, {} if str(raw) == "" else {".": [INVALID]}
    parts = {k: str(v).strip() for k, v in raw.items() if not isinstance(v, dict)}
    problems: dict[str, list[str]] = {}
    if any(key not in _COMPOUND[name] or isinstance(raw[key], dict) for key in raw):
        problems["."] = [EXTRA]
    postal = parts.get("postal", "")
    if name == "address" and postal and not _POSTAL.match(postal):
        problems["postal"] = [INVALID]  # emulator choice: the vendor documents no postal rule
    if name == "company":
        present = {k: parts[k] for k in COMPANY_CHILDREN if k in parts}
        value = None if not any(present.values()) else present
        return value, problems
    address = {k: parts[k] for k in ADDRESS_CHILDREN if parts.get(k)}
    return address or None, problems


def _email(value: str) -> tuple[str, list[str]]:
    return value.lower(), [] if _EMAIL.match(value) else [BAD_EMAIL]  # stored lower-cased


def _phone(value: str) -> tuple[str, list[str]]:
    """misd/phone-number-bundle's PhoneNumber (libphonenumber) plus a PHP `is_numeric` check."""
    try:
        valid = phonenumbers.is_valid_number(phonenumbers.parse(value, None))
    except phonenumbers.NumberParseException:
        valid = False
    problems = [] if valid else [BAD_PHONE]
    if not _NUMERIC.match(value):
        problems.append(NOT_NUMERIC)
    return value, problems


def _birth_date(value: str) -> tuple[str, list[str]]:
    try:
        return date.fromisoformat(value).isoformat(), [] if len(value) == 10 else [INVALID]
    except ValueError:
        return value, [INVALID]


def _created_at(value: str) -> tuple[Any, list[str]]:
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        return value, [INVALID]
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp(), []


def _labels(value: str) -> tuple[list[dict[str, str]], list[str]]:
    """`key1:val1;key2:val2` -> [{"key": "key1", "value": "val1"}, ...]."""
    labels: list[dict[str, str]] = []
    for item in filter(None, (part.strip() for part in value.split(";"))):
        key, colon, text = item.partition(":")
        if not colon or not key.strip():
            return [], [INVALID]
        labels.append({"key": key.strip(), "value": text.strip()})
    return labels, []
