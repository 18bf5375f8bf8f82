from __future__ import annotations

import json
import logging

from customer_gateway.observability.logging import (
    JsonFormatter,
    RedactingFilter,
    TextFormatter,
    redact,
    request_id_var,
)

SECRETS = [
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    "Bearer opaque-token-value",
    "ada.lovelace@example.com",
    "+14155550101",
    "053631",
]


def record(message: str, **extra: object) -> logging.LogRecord:
    item = logging.LogRecord("t", logging.INFO, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(item, key, value)
    return item


def test_redact_masks_tokens_contacts_and_codes() -> None:
    text = redact(" ".join(SECRETS))
    for secret in SECRETS:
        assert secret.split()[-1] not in text
    assert "<jwt>" in text and "<email>" in text and "<phone>" in text and "<code>" in text


def test_filter_redacts_message_args_and_extras_and_adds_the_request_id() -> None:
    token = request_id_var.set("req-1")
    try:
        item = record("login for %s", note="code 053631 for ada.lovelace@example.com")
        item.args = ("ada.lovelace@example.com",)
        assert RedactingFilter().filter(item)
    finally:
        request_id_var.reset(token)
    assert item.getMessage() == "login for <email>"
    assert item.note == "code <code> for <email>"  # type: ignore[attr-defined]
    assert item.request_id == "req-1"  # type: ignore[attr-defined]


def test_json_and_text_formats_carry_extras() -> None:
    item = record("upstream call", backend="menu", status=200)
    entry = json.loads(JsonFormatter().format(item))
    assert (
        entry["message"] == "upstream call"
        and entry["backend"] == "menu"
        and entry["status"] == 200
    )
    assert TextFormatter().format(item) == "INFO t: upstream call backend=menu status=200"
