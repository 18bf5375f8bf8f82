"""Structured JSON logs that carry the client request id and never carry a secret."""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from typing import Any

__all__ = [
    "JsonFormatter",
    "RedactingFilter",
    "TextFormatter",
    "configure_logging",
    "current_request_id",
    "redact",
    "request_id_var",
]

request_id_var: ContextVar[str | None] = ContextVar("customer_gateway_request_id", default=None)

# Anything that looks like a credential or personal data is masked in every record, even when a
# careless call site formats it into a message: JWTs, bearer values, emails, phone numbers, OTPs.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "<jwt>"),
    (re.compile(r"(?i)(bearer|basic)\s+[^\s\"',]+"), r"\1 <redacted>"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "<email>"),
    (re.compile(r"\+\d{7,15}"), "<phone>"),
    (re.compile(r"(?<![\w-])\d{6}(?![\w-])"), "<code>"),
)

# Record attributes that are not extras; uvicorn's `color_message` is a copy with ANSI codes.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {
    "message",
    "asctime",
    "color_message",
}


def current_request_id() -> str | None:
    return request_id_var.get()


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets and PII in the rendered message and in every string extra."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value))
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and v is not None}
    if record.exc_info and record.exc_info[0] is not None:
        extras["error"] = record.exc_info[0].__name__
    return extras


class JsonFormatter(logging.Formatter):
    """One JSON object per line; exceptions by type only (a traceback may carry data). `pid`
    tells the workers of one `serve --workers N` apart."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
            **_extras(record),
        }
        return json.dumps(entry, default=str)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _one_line(text: str) -> str:
    """Control characters escaped: a value carrying a line break cannot forge a log line."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


class TextFormatter(logging.Formatter):
    """`LEVEL logger: message key=value ...` for people reading a terminal (the demo)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{record.levelname} {record.name}: {record.getMessage()} {fields}".rstrip()
        return _one_line(line)


def configure_logging(level: str = "INFO", *, json_format: bool = True) -> None:
    """Route every logger (ours, httpx, uvicorn) through one redacting handler."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "httpcore"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # The gateway logs each request itself (customer_gateway.access, with its request id);
    # uvicorn's line would repeat it with the client's query string.
    logging.getLogger("uvicorn.access").propagate = False
    for name in ("httpx", "httpcore"):  # their INFO lines carry full URLs with query strings
        logging.getLogger(name).setLevel(logging.WARNING)
