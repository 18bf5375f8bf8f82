"""Optional OpenTelemetry spans: one per GraphQL operation and one per upstream call.

Off by default. `[telemetry] tracing = true` needs the `opentelemetry-api` package (the `otel`
extra); exporting is configured the standard OpenTelemetry way (SDK and OTEL_* variables, or
`opentelemetry-instrument`). Span attributes carry route templates and codes, never ids or PII.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["disable_tracing", "enable_tracing", "span", "tracing_enabled"]

_tracer: Any = None


def enable_tracing() -> None:
    global _tracer
    from opentelemetry import trace

    _tracer = trace.get_tracer("customer_gateway")


def disable_tracing() -> None:
    global _tracer
    _tracer = None


def tracing_enabled() -> bool:
    return _tracer is not None


@contextmanager
def span(name: str, **attributes: str | int | float | bool) -> Iterator[Any]:
    """A span when tracing is on (the current one becomes its parent), else nothing at all."""
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current
