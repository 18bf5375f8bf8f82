"""Every key the store holds is built here, so no two kinds of entry can collide.

The Redis names (`customer-gateway:…`) are part of a deployment's state: replicas of different
versions share them during a rolling upgrade, so they change only on purpose.
"""

from __future__ import annotations

__all__ = [
    "REDIS_DOCUMENT_PREFIX",
    "otp_attempts",
    "otp_failures",
    "otp_sends",
    "otp_sends_from",
    "otp_wrong_codes",
    "pending_change",
    "rate_window",
    "redis_document",
    "redis_documents_bytes",
    "redis_documents_used",
    "redis_pending",
    "redis_window",
]

_REDIS = "customer-gateway:"


def pending_change(backend: str, customer_id: str, kind: str) -> str:
    """The one pending change of a customer's credential (a new request replaces it)."""
    return f"pending:{backend}:{customer_id}:{kind}"


def otp_attempts(change_key: str, change_id: str) -> str:
    """Attempts taken for one change: wrong codes plus codes still being checked (its id keeps
    a resend from inheriting the count)."""
    return f"otp-attempts:{change_key}:{change_id}"


def otp_wrong_codes(change_key: str, change_id: str) -> str:
    """Wrong codes for one change, checked and counted."""
    return f"otp-wrong:{change_key}:{change_id}"


def otp_failures(backend: str, customer_id: str) -> str:
    """Wrong codes of one customer across all changes (the daily ceiling)."""
    return f"otp-failures:{backend}:{customer_id}"


def otp_sends(backend: str, customer_id: str) -> str:
    return f"otp-send:{backend}:{customer_id}"


def otp_sends_from(address: str) -> str:
    return f"otp-send-address:{address}"


def rate_window(scope: str, client: str) -> str:
    """Requests of one client address or one bearer token (a digest, never the token)."""
    return f"rate:{scope}:{client}"


def redis_pending(key: str) -> str:
    return _REDIS + key


def redis_window(key: str) -> str:
    return _REDIS + "window:" + key


REDIS_DOCUMENT_PREFIX = _REDIS + "document:"


def redis_document(digest: str) -> str:
    return REDIS_DOCUMENT_PREFIX + digest


def redis_documents_used() -> str:
    """A sorted set of the kept documents' digests, by when each was last used."""
    return _REDIS + "documents:used"


def redis_documents_bytes() -> str:
    """What the kept documents hold in all, in bytes."""
    return _REDIS + "documents:bytes"
