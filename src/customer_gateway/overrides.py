"""Values set outside the config file: `CUSTOMER_GATEWAY_*` environment variables and flags.

An environment variable names a section and a key (`CUSTOMER_GATEWAY_GATEWAY__PORT`, or
`CUSTOMER_GATEWAY_BACKENDS__<NAME>__<KEY>`); one that names a section or key that does not
exist is refused, naming the variable, as the same mistake in the file is. Each override keeps
its origin, so a problem with its value names the variable or the flag rather than the file.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

__all__ = [
    "ENV_PREFIX",
    "Override",
    "decode",
    "environment_overrides",
    "flag_overrides",
    "place",
    "section_model",
]

ENV_PREFIX = "CUSTOMER_GATEWAY_"


@dataclass(frozen=True)
class Override:
    """A value set outside the file: `origin` is the environment variable or the flag."""

    origin: str
    key: tuple[str, ...]
    value: Any


def environment_overrides(
    environ: Mapping[str, str], settings: type[BaseModel], refuse: Callable[[str], None]
) -> list[Override]:
    """The `CUSTOMER_GATEWAY_*` variables of `environ` (any case) for the sections of
    `settings`; `backends` is a table of tables, every other section a model."""
    sections = settings.model_fields
    found: list[Override] = []
    for variable, value in sorted(environ.items()):
        if not variable.upper().startswith(ENV_PREFIX):
            continue
        key = tuple(variable[len(ENV_PREFIX) :].lower().split("__"))
        section = sections.get(key[0])
        if section is None:
            names = ", ".join(sorted(sections))
            refuse(f"{variable}: unknown section {key[0]!r} (sections: {names})")
        elif key[0] == "backends":
            if len(key) != 3 or not all(key):
                refuse(f"{variable}: name a backend and a key: {ENV_PREFIX}BACKENDS__<NAME>__<KEY>")
            else:
                found.append(Override(variable, key, value))
        elif len(key) != 2 or not key[1]:
            refuse(f"{variable}: name one key: {ENV_PREFIX}{key[0].upper()}__<KEY>")
        elif key[1] not in section_model(section.annotation).model_fields:
            refuse(f"{variable}: {'.'.join(key)}: unknown key")
        else:
            found.append(Override(variable, key, value))
    return found


def flag_overrides(section: str, flags: Mapping[str, Any]) -> list[Override]:
    """Command-line flags for keys of one section (`--port` for `[gateway] port`); None is unset."""
    return [
        Override(f"--{name.replace('_', '-')}", (section, name), value)
        for name, value in flags.items()
        if value is not None
    ]


def place(
    data: dict[str, Any],
    override: Override,
    settings: type[BaseModel],
    report: Callable[[tuple[str, ...], str], None],
) -> None:
    """Puts an override into the file's data, over what the file says."""
    *tables, name = override.key
    target = data
    for table in tables:
        inner = target.setdefault(table, {})
        if not isinstance(inner, dict):
            report(override.key, f"{table} is not a table in the file")
            return
        target = inner
    value = override.value
    if tables[0] != "backends":  # backend keys are decoded once their kind is known
        value = decode(section_model(settings.model_fields[tables[0]].annotation), name, value)
    target[name] = value


def decode(model: type[BaseModel], name: str, value: Any) -> Any:
    """An environment string for a list or table key is JSON (`'["a", "b"]'`); a string for
    any other key is left for validation to convert, as pydantic does with `"true"` or `"8000"`."""
    field = model.model_fields.get(name)
    if field is None or not isinstance(value, str) or not _is_collection(field.annotation):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value  # validation then says what the key expects


def section_model(annotation: Any) -> type[BaseModel]:
    """The model of a section, also of an optional one (`TrustedDocumentsSection | None`)."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    raise TypeError(f"{annotation!r} is not a settings section")


def _is_collection(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_collection(arg) for arg in typing.get_args(annotation))
    return origin in (list, dict, tuple, set, frozenset) or annotation in (list, dict)
