"""Input checks that run before any upstream call, so bad input never costs a backend request."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from customer_gateway.domain import FieldProblem, ValidationError

__all__ = ["normalise_email", "normalise_phone_number"]


def normalise_email(value: str, field: tuple[str, ...] = ("email",)) -> str:
    """The address in normalised form, or INVALID (syntax only: no DNS lookups on user input)."""
    try:
        return str(validate_email(value.strip(), check_deliverability=False).normalized)
    except EmailNotValidError:
        raise ValidationError([FieldProblem(field, "Not a valid email address.")]) from None


def normalise_phone_number(value: str, field: tuple[str, ...] = ("phone_number",)) -> str:
    """The number in E.164 (international `+` form required), or INVALID."""
    problem = ValidationError(
        [
            FieldProblem(
                field, "Not a valid phone number; use the international form, e.g. +14155550101."
            )
        ]
    )
    text = value.strip()
    if not text.startswith("+") or len(text) > 32:
        raise problem
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise problem from None
    if not phonenumbers.is_valid_number(number):
        raise problem
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
