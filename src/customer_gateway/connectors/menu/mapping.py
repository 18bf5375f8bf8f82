"""Menu (PAR Ordering) JSON <-> domain, as pure functions over the vendor's documented shapes.

Menu wraps every answer as {"status": "OK", "code": 200, "data": {...}}; its tokens carry ttl and
refresh_ttl in minutes, and there is no separate refresh token (the access JWT refreshes itself).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from customer_gateway.connectors.payload import (
    opt_bool,
    opt_datetime,
    opt_int,
    opt_str,
    req_mapping,
    req_str,
)
from customer_gateway.domain import (
    AuthResult,
    ChangeKind,
    Customer,
    CustomerStatus,
    CustomerUpdate,
    FieldProblem,
    Token,
)

ACCOUNT_FIELDS = frozenset(
    {
        "id",
        "type_id",
        "reference_type",
        "first_name",
        "last_name",
        "email",
        "confirmed",
        "phone_number",
        "locale",
        "state",
        "demographics",
        "optin_status_email",
        "optin_status_pn",
        "optin_status_sms",
        "has_pending_email_change",
        "has_pending_phone_number_change",
        "is_social",
        "social_login",
        "updated_at",
        "created_at",
    }
)
ACCOUNT_EXPECTED = frozenset({"id", "email", "first_name", "last_name", "phone_number"})

__all__ = [
    "ACCOUNT_EXPECTED",
    "ACCOUNT_FIELDS",
    "account_from_envelope",
    "auth_result_from_envelope",
    "credential_body",
    "customer_from_account",
    "field_problems",
    "token_from_payload",
    "update_body",
]

# optin_status_*: 1 confirmed, 2 disabled, 3 pending (not yet opted in).
_OPT_IN = {1: True, 2: False}

# Vendor field -> domain field, for errors the vendor reports per field.
_FIELDS = {
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "phone_number": "phone_number",
    "optin_status_email": "marketing_opt_in",
    "demographics": "birth_date",
    "confirmation_code": "code",
}


def _data(envelope: Any) -> Mapping[str, Any]:
    return req_mapping(envelope, "data")


def account_from_envelope(envelope: Any) -> Mapping[str, Any]:
    return req_mapping(_data(envelope), "customer_account")


def customer_from_account(
    backend: str, account: Mapping[str, Any], *, birthday_demographic_id: str | None = None
) -> Customer:
    state = opt_int(account, "state")
    return Customer(
        backend=backend,
        native_id=req_str(account, "id"),
        first_name=opt_str(account, "first_name"),
        last_name=opt_str(account, "last_name"),
        email=opt_str(account, "email"),
        phone_number=opt_str(account, "phone_number"),
        locale=opt_str(account, "locale"),
        birth_date=_birth_date(account, birthday_demographic_id),
        marketing_opt_in=_OPT_IN.get(opt_int(account, "optin_status_email") or 0),
        active=None if state is None else state == 1,
        status=CustomerStatus.ACTIVE if state == 1 else None,
        pending_email_change=opt_bool(account, "has_pending_email_change") or False,
        pending_phone_number_change=opt_bool(account, "has_pending_phone_number_change") or False,
        created_at=opt_datetime(account, "created_at"),
        updated_at=opt_datetime(account, "updated_at"),
        raw=dict(account),
    )


def _birth_date(account: Mapping[str, Any], demographic_id: str | None) -> date | None:
    demographics = account.get("demographics")
    if demographic_id is None or not isinstance(demographics, list):
        return None
    for item in demographics:
        if isinstance(item, Mapping) and item.get("demographic_id") == demographic_id:
            value = opt_str(item, "value")
            try:
                return date.fromisoformat(value) if value else None
            except ValueError:
                return None
    return None


def _jwt_claims(token: str) -> Mapping[str, Any]:
    """The unverified payload of a JWT; only read for its timestamps, never trusted for identity."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, Mapping) else {}


def token_from_payload(token: Mapping[str, Any], now: datetime) -> Token:
    """`{"value", "ttl", "refresh_ttl"}` with minutes -> absolute UTC expiries.

    The access JWT is also the refresh credential, so it is returned as `refresh_token` too.
    """
    value = req_str(token, "value")
    ttl = opt_int(token, "ttl")
    refresh_ttl = opt_int(token, "refresh_ttl")
    issued = opt_int(_jwt_claims(value), "iat")
    refresh_from = datetime.fromtimestamp(issued, UTC) if issued is not None else now
    return Token(
        access_token=value,
        refresh_token=value,
        expires_at=now + timedelta(minutes=ttl) if ttl is not None else None,
        refresh_expires_at=(
            refresh_from + timedelta(minutes=refresh_ttl) if refresh_ttl is not None else None
        ),
    )


def auth_result_from_envelope(
    backend: str, envelope: Any, now: datetime, *, birthday_demographic_id: str | None = None
) -> AuthResult:
    data = _data(envelope)
    return AuthResult(
        token=token_from_payload(req_mapping(data, "token"), now),
        customer=customer_from_account(
            backend,
            req_mapping(data, "customer_account"),
            birthday_demographic_id=birthday_demographic_id,
        ),
    )


def update_body(update: CustomerUpdate, *, birthday_demographic_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if update.first_name is not None:
        body["first_name"] = update.first_name
    if update.last_name is not None:
        body["last_name"] = update.last_name
    if update.marketing_opt_in is not None:
        body["optin_status_email"] = 1 if update.marketing_opt_in else 2
    if update.birth_date is not None and birthday_demographic_id is not None:
        body["demographics"] = [
            {"demographic_id": birthday_demographic_id, "value": update.birth_date.isoformat()}
        ]
    return body


def credential_body(kind: ChangeKind, value: str) -> dict[str, str]:
    return {"email": value} if kind is ChangeKind.EMAIL else {"phone_number": value}


def field_problems(envelope: Any) -> list[FieldProblem]:
    """Menu's `errors: {field: [messages]}` as domain problems; unknown fields lose their path."""
    errors = envelope.get("errors") if isinstance(envelope, Mapping) else None
    problems: list[FieldProblem] = []
    if isinstance(errors, Mapping):
        for vendor_field, messages in errors.items():
            field = _FIELDS.get(str(vendor_field))
            texts = messages if isinstance(messages, list) else [messages]
            for text in texts:
                lowered = str(text).lower()
                code = "TAKEN" if "taken" in lowered or "already" in lowered else "INVALID"
                problems.append(FieldProblem.of((field,) if field else None, code))
    return problems or [FieldProblem.of(None, "INVALID")]
