"""One-time codes: 6 digits from `secrets`, kept only as an HMAC bound to what they confirm."""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["CODE_DIGITS", "CodeHasher", "looks_like_code", "new_code"]

CODE_DIGITS = 6


def new_code() -> str:
    """Uniform over 000000-999999 (no leading-zero bias), from the OS's CSPRNG."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def looks_like_code(text: str) -> bool:
    return len(text) == CODE_DIGITS and text.isascii() and text.isdigit()


class CodeHasher:
    """HMAC-SHA256 keyed by the `[otp] secret`, over the code *and* what it confirms.

    Binding the backend, customer, kind and new value into the digest means a code for one
    change can never confirm another, even if two changes happened to draw the same code.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the OTP secret must be at least 16 bytes")
        self._secret = secret

    def digest(self, *, backend: str, customer_id: str, kind: str, value: str, code: str) -> str:
        message = "\x1f".join((backend, customer_id, kind, value.casefold(), code))
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()
