"""Everything the gateway emits during the test run, scanned for secrets and personal data.

A handler on the root logger keeps every record (raw, before any redaction) at DEBUG; the
GraphQL helpers keep every error they receive; `/metrics` texts are added by the tests that
read them. At the end of the run nothing may contain a canary.
"""

from __future__ import annotations

import logging
import re

__all__ = ["CANARIES", "Capture", "capture"]

# Seeded secrets and personal data of the sandboxes and test configs.
CANARIES = (
    "menu-demo-pass",
    "kibo-demo-pass",
    "loyalty-demo-pass",
    "loyalty-admin-pass",
    "kibo-demo-client-secret",
    "test-admin-key-0123456789",
    "demo-admin-key-not-for-production",
    "shared-otp-secret-0123456789",
    "webhook-signing-secret-0123456789",
    "ada.lovelace@example.com",
    "grace.hopper@example.com",
    "katherine.johnson@example.com",
    "+14155550101",
    "+14155550102",
    "+14155550103",
)
# Token shapes: JWTs and long opaque base64 blobs (Kibo's shopper tokens).
TOKEN_SHAPES = re.compile(r"eyJ[A-Za-z0-9_-]{10,}|[A-Za-z0-9+/]{120,}={0,2}")
_CLIENT_SIDE = ("gql", "mail.log", "aiosmtpd")
_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_CLIENT_SIDE):
            return  # the tests' own clients and mail servers, not the gateway
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        self.texts.append(f"{record.name} {record.getMessage()} {extras}")

    def add(self, text: str) -> None:
        self.texts.append(text)

    def leaks(self) -> list[str]:
        found = []
        for text in self.texts:
            hits = [c for c in CANARIES if c in text] + TOKEN_SHAPES.findall(text)
            if hits:
                found.append(f"{hits[0][:40]!r} in {text[:200]!r}")
        return found


capture = Capture()
