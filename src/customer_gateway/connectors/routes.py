"""Upstream paths built from route templates: the only way a connector names an upstream URL.

A route is a template such as `customer-accounts/{id}/verify-email-update` whose every variable
segment has an id shape (a vendor's numeric ids, UUIDs, digit codes). Building a path checks each
value against its shape and escapes it as one path segment, so nothing a client or a token claim
supplies can add a segment, a query or a fragment, or reach another endpoint; a value that fails
is refused before any call. Logs, metrics and spans name the call by its template only, so no
client value can mint a new metric series either. Query values never go here: the HTTP client
encodes them as parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from string import Formatter
from urllib.parse import quote

from customer_gateway.domain import InvalidInputError

__all__ = [
    "DIGITS",
    "INT32",
    "UUID",
    "IdShape",
    "Route",
    "UpstreamPath",
    "segment_name",
]


@dataclass(frozen=True, slots=True)
class IdShape:
    """What one vendor's ids of one kind look like (ASCII only: `"²".isdigit()` is true)."""

    name: str
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None

    def matches(self, value: object) -> bool:
        if not isinstance(value, str) or self.pattern.fullmatch(value) is None:
            return False
        return self.check is None or self.check(value)


# Canonical forms only (no leading zeros, lower-case hex): each customer has one id, so one
# customer is never two (two rate-limit windows, two pending changes) under spellings a vendor
# would take as the same.
INT32 = IdShape("int32", re.compile(r"0|[1-9][0-9]{0,9}"), lambda value: int(value) <= 2**31 - 1)
UUID = IdShape("uuid", re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"))
DIGITS = IdShape("digits", re.compile(r"[0-9]{4,10}"))  # one-time codes in a path

_SEGMENT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def segment_name(value: str) -> bool:
    """A configured name that may stand in a path as it is (a store code)."""
    return _SEGMENT_NAME.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class UpstreamPath:
    """A path relative to the backend's base URL, and the template it was built from."""

    path: str
    template: str  # "/customer-accounts/{id}": what logs, metrics and spans show


class Route:
    """A template plus the shape of each of its variables.

    Example:
        ACCOUNT = Route("customer-accounts/{id}", id=UUID)
        ACCOUNT.path(id=native_id)  # BAD_USER_INPUT unless native_id is a UUID
    """

    __slots__ = ("_fixed", "shapes", "template")

    def __init__(self, template: str, **shapes: IdShape) -> None:
        names = {name for _, name, _, _ in Formatter().parse(template) if name is not None}
        if names != set(shapes):
            raise ValueError(f"route {template!r}: variables {sorted(names)} need shapes")
        literal = re.sub(r"\{[^}]*\}", "", template)
        segments = template.split("/")
        if any(char in literal for char in "?#%\\") or not all(segments) or ".." in segments:
            raise ValueError(f"route {template!r}: a template is a plain relative path")
        self.template = template
        self.shapes = shapes
        self._fixed = None if shapes else UpstreamPath(template, "/" + template)

    def path(self, **values: str) -> UpstreamPath:
        """The path with every value checked against its shape and escaped as one segment."""
        if self._fixed is not None and not values:
            return self._fixed
        if values.keys() != self.shapes.keys():
            raise TypeError(f"route {self.template!r} takes {sorted(self.shapes)}")
        for name, value in values.items():
            if not self.shapes[name].matches(value):
                raise InvalidInputError("Not a valid id for this backend.")
        escaped = {name: quote(value, safe="") for name, value in values.items()}
        return UpstreamPath(self.template.format(**escaped), "/" + self.template)

    def __repr__(self) -> str:
        return f"Route({self.template!r})"
