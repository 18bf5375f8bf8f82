"""Opaque global customer ids: stable, URL-safe, and carrying the backend name and native id."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from customer_gateway.domain.errors import InvalidInputError

__all__ = ["CustomerRef", "decode_customer_id", "encode_customer_id"]

_PREFIX = "Customer:"


@dataclass(frozen=True, slots=True)
class CustomerRef:
    backend: str
    native_id: str


def encode_customer_id(backend: str, native_id: str) -> str:
    raw = f"{_PREFIX}{backend}:{native_id}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_customer_id(global_id: str) -> CustomerRef:
    """The backend and native id inside a global id; BAD_USER_INPUT when it is not one of ours."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidInputError("Not a customer id.") from None
    if not text.startswith(_PREFIX):
        raise InvalidInputError("Not a customer id.")
    backend, sep, native_id = text[len(_PREFIX) :].partition(":")
    if not (backend and sep and native_id):
        raise InvalidInputError("Not a customer id.")
    return CustomerRef(backend, native_id)
