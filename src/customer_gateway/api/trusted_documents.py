"""Trusted documents: the operations an app ships, listed in a manifest, and the rule that only
they run.

The manifest is Apollo's persisted-query manifest (`@apollo/generate-persisted-query-manifest`
writes it) or a plain `{"<sha256 hex>": "<document>"}` map (Relay, GraphQL Code Generator's
persisted documents, Yoga). Every id must be the SHA-256 of its document, so a full document a
client sends is found by hashing it. A request names a listed document by
`extensions.persistedQuery.sha256Hash` (Apollo Client's persisted-query link) or by a top-level
`documentId` (`sha256:<hex>` or the bare hex).

Enforced, the list is the only source of documents: automatic persisted queries are not
consulted (nothing new is remembered), and the admin key changes nothing. Not enforced,
everything runs and each unlisted document is logged (name and hash, never variables) and
counted, so an operator sees what enforcement would refuse before turning it on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from customer_gateway.api.persisted import (
    SHA256_HEX,
    PersistedQueryError,
    check_document_hash,
    persisted_hash,
)
from customer_gateway.observability.metrics import METRICS

__all__ = ["MANIFEST_FORMAT", "TrustedDocuments", "read_manifest"]

logger = logging.getLogger("customer_gateway.trusted_documents")

MANIFEST_FORMAT = "apollo-persisted-query-manifest"
MAX_PROBLEMS = 20  # a wholly wrong manifest (say, SHA-1 ids) is reported in a screenful
_SEEN_LIMIT = 10_000  # distinct unlisted documents logged before the memory of them is reset
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,127}")
_OPERATION_NAME = re.compile(r"\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]{0,127})")


def read_manifest(path: Path) -> tuple[dict[str, str], list[str]]:
    """The listed documents by lower-case SHA-256 hex, and one line per problem in the file."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        return {}, [f"{path}: cannot read the file ({exc.strerror})"]
    except ValueError as exc:
        return {}, [f"{path}: not JSON ({exc})"]
    if not isinstance(data, dict):
        return {}, [f"{path}: neither a persisted-query manifest nor an id-to-document map"]
    if "format" in data or "operations" in data:
        entries, problems = _apollo_entries(data)
    else:
        entries, problems = list(data.items()), []
    documents: dict[str, str] = {}
    for where, (key, body) in enumerate(entries):
        label = f"operations[{where}]" if "operations" in data else repr(key)[:80]
        if not isinstance(key, str) or not SHA256_HEX.fullmatch(key.lower()):
            problems.append(f"{label}: the id is not a SHA-256 hex digest")
        elif not isinstance(body, str) or not body.strip():
            problems.append(f"{label}: the document is not a non-empty string")
        elif hashlib.sha256(body.encode()).hexdigest() != key.lower():
            problems.append(f"{label}: the id is not the SHA-256 of its document")
        else:
            documents[key.lower()] = body
    if not documents and not problems:
        problems.append("lists no documents")
    shown = [f"{path}: {problem}" for problem in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"{path}: and {len(problems) - MAX_PROBLEMS} more problems")
    return documents, shown


def _apollo_entries(data: dict[str, Any]) -> tuple[list[tuple[object, object]], list[str]]:
    if data.get("format") != MANIFEST_FORMAT:
        return [], [f"format must be {MANIFEST_FORMAT!r}"]
    if data.get("version") != 1:
        return [], ["only version 1 of the manifest format is known"]
    operations = data.get("operations")
    if not isinstance(operations, list):
        return [], ["operations must be a list"]
    entries: list[tuple[object, object]] = []
    for operation in operations:
        if isinstance(operation, dict):
            entries.append((operation.get("id"), operation.get("body")))
        else:
            entries.append((None, None))
    return entries, []


class TrustedDocuments:
    """The listed documents of one process, and what a request may run under them."""

    def __init__(self, documents: Mapping[str, str], *, enforce: bool) -> None:
        self.documents = dict(documents)
        self.enforce = enforce
        self._seen: set[str] = set()

    def listed(self, query: str | None, persisted: Any, document_id: Any) -> str | None:
        """The listed document a request names or sends. None when it has none that is listed
        and the list is not enforced: the request then goes on as it would without a list."""
        named = self._named_id(persisted, document_id)
        if named is None:
            if query is None:
                return None  # nothing sent: the view words that refusal
            document = self.documents.get(hashlib.sha256(query.encode()).hexdigest())
            if document is None and self.enforce:
                raise PersistedQueryError(
                    403,
                    "This operation is not in the list of trusted documents.",
                    "QUERY_NOT_IN_SAFELIST",
                )
            return document
        if query is not None:
            check_document_hash(query, named)
        document = self.documents.get(named)
        # Unlisted and not enforced, a persistedQuery hash goes on to automatic persisted
        # queries; a documentId without its document has nothing else to run.
        if document is None and (self.enforce or (query is None and document_id is not None)):
            raise PersistedQueryError(404, "PersistedQueryNotInList", "PERSISTED_QUERY_NOT_IN_LIST")
        return document

    def note_untrusted(self, document: str, operation_name: object) -> None:
        """Count a document that runs without being listed; log each distinct one once."""
        METRICS.untrusted_documents.inc()
        digest = hashlib.sha256(document.encode()).hexdigest()
        if digest in self._seen:
            return
        if len(self._seen) >= _SEEN_LIMIT:
            self._seen.clear()
        self._seen.add(digest)
        logger.warning(
            "untrusted document",
            extra={"operation": _operation_name(document, operation_name), "sha256": digest},
        )

    @staticmethod
    def _named_id(persisted: Any, document_id: Any) -> str | None:
        if document_id is not None:
            if not isinstance(document_id, str):
                raise PersistedQueryError(400, "`documentId` must be a string.", "BAD_REQUEST")
            digest = document_id.removeprefix("sha256:").lower()
            if not SHA256_HEX.fullmatch(digest):
                raise PersistedQueryError(
                    400, "`documentId` must be sha256:<hex digest>.", "BAD_REQUEST"
                )
            if persisted is not None and persisted_hash(persisted) != digest:
                raise PersistedQueryError(
                    400, "`documentId` and the persisted query hash differ.", "BAD_REQUEST"
                )
            return digest
        return None if persisted is None else persisted_hash(persisted)


def _operation_name(document: str, requested: object) -> str:
    """A name to log: the requested one, or the document's first; never free client text."""
    if isinstance(requested, str) and _NAME.fullmatch(requested):
        return requested
    match = _OPERATION_NAME.search(document)
    return match.group(1) if match else "(anonymous)"
