"""Automatic persisted queries (Apollo's APQ protocol, version 1).

A client sends `extensions.persistedQuery.sha256Hash` alone; the gateway answers with the
document it stored under that hash, or PERSISTED_QUERY_NOT_FOUND, after which the client sends
hash and document together once and the gateway stores it. Hot clients then skip sending the
document, and the gateway's document cache skips parsing it. Documents live in the gateway's
store (memory or Redis), so every replica knows a hash any of them has seen; while the store is
out, a look-up misses and the client re-sends the document.

The limits on what is kept live here: each document's size, what the memory store holds in all
(bytes, least recently used dropped first), and how long Redis keeps one.
"""

from __future__ import annotations

import hashlib
from typing import Any

from customer_gateway.store import Documents

__all__ = [
    "DOCUMENT_TTL_S",
    "MAX_PERSISTED_BYTES",
    "MEMORY_DOCUMENTS_MAX_BYTES",
    "PersistedQueryError",
    "resolve_persisted_query",
]

MAX_PERSISTED_BYTES = 64 * 1024  # larger documents (UTF-8) run, but are not kept
MEMORY_DOCUMENTS_MAX_BYTES = 16 * 1024 * 1024  # all documents the memory store keeps
DOCUMENT_TTL_S = 7 * 24 * 3600  # each document's life in Redis


class PersistedQueryError(Exception):
    """Answered as a GraphQL error body with its own status and code."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


async def resolve_persisted_query(store: Documents, query: str | None, persisted: Any) -> str:
    """The document to run for a request carrying a `persistedQuery` extension."""
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise PersistedQueryError(400, "Unsupported persisted query version.", "BAD_REQUEST")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64:
        raise PersistedQueryError(400, "`sha256Hash` must be a SHA-256 hex digest.", "BAD_REQUEST")
    digest = digest.lower()
    if query is None:
        stored = await store.get_document(digest)
        if stored is None:  # Apollo's clients look for this message or code, then send the query
            raise PersistedQueryError(200, "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
        return stored
    encoded = query.encode()
    if hashlib.sha256(encoded).hexdigest() != digest:
        raise PersistedQueryError(
            400, "provided sha does not match query", "PERSISTED_QUERY_HASH_MISMATCH"
        )
    if len(encoded) <= MAX_PERSISTED_BYTES:
        await store.put_document(digest, query)
    return query
