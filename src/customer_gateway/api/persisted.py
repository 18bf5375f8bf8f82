"""Automatic persisted queries (Apollo's APQ protocol, version 1).

A client sends `extensions.persistedQuery.sha256Hash` alone; the gateway answers with the
document it stored under that hash, or PERSISTED_QUERY_NOT_FOUND, after which the client sends
hash and document together once and the gateway stores it. Hot clients then skip sending the
document, and the gateway's document cache skips parsing it. Documents live in the gateway's
store (memory or Redis), so every replica knows a hash any of them has seen; while the store is
out, a look-up misses and the client re-sends the document.

The limits on what is kept live here: each document's size, and what the store holds in all
(bytes, least recently used dropped first).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from customer_gateway.api.framework import Refusal
from customer_gateway.store import Documents

__all__ = [
    "DOCUMENTS_MAX_BYTES",
    "MAX_PERSISTED_BYTES",
    "PersistedQueryError",
    "check_document_hash",
    "persisted_hash",
    "resolve_persisted_query",
]

MAX_PERSISTED_BYTES = 64 * 1024  # larger documents (UTF-8) are not kept
# All documents the store keeps (each replica's memory, or the one Redis they share), least
# recently used dropped first: an app's operations are a few hundred KB; more is clients (or
# an attacker) sending documents nobody sends twice.
DOCUMENTS_MAX_BYTES = 4 * 1024 * 1024
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class PersistedQueryError(Refusal):
    """A persisted-query request refused: a GraphQL error body with its own status and code."""


def persisted_hash(persisted: Any) -> str:
    """The lower-case SHA-256 hex a `persistedQuery` extension names, or a BAD_REQUEST."""
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise PersistedQueryError(400, "Unsupported persisted query version.", "BAD_REQUEST")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not SHA256_HEX.fullmatch(digest.lower()):
        raise PersistedQueryError(400, "`sha256Hash` must be a SHA-256 hex digest.", "BAD_REQUEST")
    return digest.lower()


def check_document_hash(query: str, digest: str) -> None:
    """A document sent along with its hash must be the one the hash names."""
    if hashlib.sha256(query.encode()).hexdigest() != digest:
        raise PersistedQueryError(
            400, "provided sha does not match query", "PERSISTED_QUERY_HASH_MISMATCH"
        )


async def resolve_persisted_query(
    store: Documents, query: str | None, persisted: Any, *, runnable: Callable[[str], bool]
) -> str:
    """The document to run for a request carrying a `persistedQuery` extension. A document sent
    with its hash is kept only if it would run (`runnable`): what does not parse or validate is
    answered, and nobody is given a way to fill the store with it."""
    digest = persisted_hash(persisted)
    if query is None:
        stored = await store.get_document(digest)
        if stored is None:  # Apollo's clients look for this message or code, then send the query
            raise PersistedQueryError(200, "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
        return stored
    check_document_hash(query, digest)
    if len(query.encode()) <= MAX_PERSISTED_BYTES and runnable(query):
        await store.put_document(digest, query)
    return query
