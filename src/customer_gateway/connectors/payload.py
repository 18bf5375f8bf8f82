"""Tolerant readers for vendor JSON: a missing or wrong-typed optional field reads as None.

Only the fields a mapping cannot do without (ids, tokens) are required; reading those raises
BackendProtocolError, the one error mapping functions raise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from customer_gateway.domain import Address, BackendProtocolError

T = TypeVar("T")

__all__ = [
    "count_drift",
    "mapped",
    "opt_address",
    "opt_bool",
    "opt_date",
    "opt_datetime",
    "opt_float",
    "opt_int",
    "opt_mapping",
    "opt_str",
    "req_mapping",
    "req_str",
]


def count_drift(
    backend: str,
    kind: str,
    data: Mapping[str, Any],
    known: frozenset[str],
    expected: frozenset[str],
) -> None:
    """Count vendor fields we do not know and expected ones that are absent (a metric, never a
    failure): the first sign that a vendor changed its payloads."""
    keys = data.keys()
    if keys <= known and expected <= keys:  # the usual case, answered without building sets
        return
    from customer_gateway.observability.metrics import METRICS

    for field in keys - known:
        METRICS.mapping_drift.labels(backend, kind, "unknown", str(field)[:64]).inc()
    for field in expected - keys:
        METRICS.mapping_drift.labels(backend, kind, "missing", field).inc()


def mapped(backend: str, build: Callable[[], T]) -> T:
    """Run a mapping and name the backend on the error it may raise."""
    try:
        return build()
    except BackendProtocolError:
        raise BackendProtocolError(backend=backend) from None


def req_mapping(data: Any, key: str | None = None) -> Mapping[str, Any]:
    value = data if key is None else (data.get(key) if isinstance(data, Mapping) else None)
    if not isinstance(value, Mapping):
        raise BackendProtocolError()
    return value


def opt_mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = data.get(key)
    return value if isinstance(value, Mapping) else None


def req_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise BackendProtocolError()
    return value


def opt_address(data: Mapping[str, Any] | None, keys: Mapping[str, str]) -> Address | None:
    """An address object, `keys` naming the vendor's key for each of the domain's fields
    (street, address2, city, postal, province, country); None when there is no object."""
    if data is None:
        return None
    return Address(**{name: opt_str(data, key) for name, key in keys.items()})


def opt_str(data: Mapping[str, Any], key: str) -> str | None:
    """A string field; vendors' empty strings ("" for an unset phone) read as None."""
    value = data.get(key)
    return value if isinstance(value, str) and value != "" else None


def opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


def opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def opt_float(data: Mapping[str, Any], key: str) -> float | None:
    """A number that vendors may send as a string ("50.00") or a percentage ("15.00%")."""
    value = data.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().rstrip("%"))
        except ValueError:
            return None
    return None


def opt_datetime(data: Mapping[str, Any], key: str) -> datetime | None:
    """ISO-8601 with or without offset (`+0200`, `Z`), naive `YYYY-MM-DD HH:MM:SS` as UTC, or
    epoch seconds/milliseconds (storefront SDKs convert Kibo's expirations to epoch ms)."""
    value = data.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        seconds = value / 1000 if value > 10**11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def opt_date(data: Mapping[str, Any], key: str) -> date | None:
    value = data.get(key)
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
