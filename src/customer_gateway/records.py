"""One record built from another whose fields carry the same names.

The GraphQL types mirror the domain models field for field, and so do a few settings and the
parts they configure: naming each field twice, once per side, is how the two drift apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any, TypeVar, cast

__all__ = ["converted", "named"]

T = TypeVar("T")


@cache
def _init_fields(target: type[Any]) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(target) if field.init)


def named(source: object, names: Iterable[str]) -> dict[str, Any]:
    """The `names` attributes of `source`, as keyword arguments."""
    return {name: getattr(source, name) for name in names}


def converted(target: Callable[..., T], source: object, /, **given: Any) -> T:
    """`target` (a dataclass) from `source`'s attributes of the same names; `given` for the
    fields that differ. A field neither side has is an AttributeError at once, not a None."""
    names = [name for name in _init_fields(cast(type, target)) if name not in given]
    return target(**named(source, names), **given)
