"""One record built from another whose fields carry the same names.

The GraphQL types mirror the domain models field for field, and so do a few settings and the
parts they configure: naming each field twice, once per side, is how the two drift apart. A
conversion costs about 1 us more than spelling the fields out (a page of 50 customers with
their loyalty status: about 0.25 ms of its 20 ms of CPU).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

__all__ = ["converted", "named"]

T = TypeVar("T")

# (target, the fields given) -> the fields to copy from the source
_COPIED: dict[tuple[Any, ...], tuple[str, ...]] = {}


def named(source: object, names: Iterable[str]) -> dict[str, Any]:
    """The `names` attributes of `source`, as keyword arguments."""
    return {name: getattr(source, name) for name in names}


def converted(target: Callable[..., T], source: object, /, **given: Any) -> T:
    """`target` (a dataclass) from `source`'s attributes of the same names; `given` for the
    fields that differ. A field neither side has is an AttributeError at once, not a None."""
    key = (target, *given)
    names = _COPIED.get(key)
    if names is None:
        fields = dataclasses.fields(cast("type[Any]", target))
        names = _COPIED[key] = tuple(f.name for f in fields if f.init and f.name not in given)
    values = named(source, names)
    values.update(given)
    return target(**values)
