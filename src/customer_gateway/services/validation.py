"""Input checks that run before any upstream call, so bad input never costs a backend request."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from customer_gateway.domain import FieldProblem, ValidationError

__all__ = ["normalise_email", "normalise_phone_number"]


_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE")
_PHONE_SHAPE = re.compile(r"^\+\d[\d ().-]{5,30}$")


def _mixed_script(text: str) -> bool:
    """A word mixing Latin with a look-alike script (a Cyrillic "a" in "example"): a spoof."""
    for word in re.split(r"[.@+_-]", text):
        scripts = set()
        for char in word:
            if char.isalpha():
                name = unicodedata.name(char, "")
                scripts |= {s for s in _SCRIPTS if name.startswith(s)}
        if len(scripts) > 1:
            return True
    return False


def normalise_email(value: str, field: tuple[str, ...] = ("email",)) -> str:
    """The address in normalised form, or INVALID (syntax only: no DNS lookups on user input).

    Internationalised addresses are fine; a word mixing look-alike scripts is not.
    """
    problem = ValidationError([FieldProblem(field, "Not a valid email address.")])
    try:
        email = str(validate_email(value.strip(), check_deliverability=False).normalized)
    except EmailNotValidError:
        raise problem from None
    if _mixed_script(email):
        raise problem
    return email


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
    if not _PHONE_SHAPE.match(text):
        raise problem
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise problem from None
    if not phonenumbers.is_valid_number(number):
        raise problem
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
