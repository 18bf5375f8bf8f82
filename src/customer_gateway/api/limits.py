"""Operation shape limits, in one validation rule: depth, aliases, root fields, fields in one
selection set, and at most one field per document that checks a secret (a sign-in or a code
confirmation: no guessing passwords or codes in bulk through aliases).

Fragments are expanded, so no limit can be dodged by moving fields into a fragment, and every
field counts, introspection included. Each fragment is measured once and its figures reused
wherever it is spread: expanding spreads anew at every use (as Strawberry's depth and alias
limiters do) lets a 1.5 KB document of fragments that spread each other thirty times run for
minutes. A spread of an unknown or cyclic fragment counts for nothing here; graphql-core's own
rules report it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

__all__ = ["ONE_PER_DOCUMENT", "OperationLimits", "operation_limits"]

# Fields that check a secret: one per document, so no document guesses in bulk through aliases.
ONE_PER_DOCUMENT = frozenset({"signIn", "confirmEmailChange", "confirmPhoneNumberChange"})


@dataclass
class _Shape:
    """What a selection set amounts to once its fragments are expanded."""

    depth: int = 0  # nested selection sets below it (a leaf field adds none)
    aliases: int = 0  # aliased fields, each spread of a fragment counted again
    keys: Counter[str] = field(default_factory=Counter)  # its own level's response keys, each
    # as often as it is selected there (spreads of a fragment counted again)
    repeats: int = 0  # the most selections of one response key in any set within it
    confirms: set[str] = field(default_factory=set)  # secret-checking response keys, its level


@dataclass(frozen=True)
class OperationLimits:
    """What one document may ask for, checked in one linear pass before any other rule."""

    max_depth: int = 15
    max_aliases: int = 15
    max_root_fields: int = 10
    # Selections of one response key in one selection set, fragments expanded: they merge into
    # one field, and graphql-core compares them pairwise (100 repeats cost 0.17 s to validate,
    # 480 cost 1.5 s); a real document repeats a field a handful of times at most.
    max_repeats: int = 10


class _Measure:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.done: dict[str, _Shape] = {}
        self.open: set[str] = set()  # fragments being measured: a spread of one is a cycle

    def fragment(self, name: str) -> _Shape:
        shape = self.done.get(name)
        if shape is not None:
            return shape
        definition = self.fragments.get(name)
        if definition is None or name in self.open:
            return _Shape()
        self.open.add(name)
        shape = self.selection_set(definition.selection_set)
        self.open.discard(name)
        self.done[name] = shape
        return shape

    def selection_set(self, selection_set: SelectionSetNode) -> _Shape:
        shape = _Shape()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                shape.keys[key] += 1
                if selection.name.value in ONE_PER_DOCUMENT:
                    shape.confirms.add(key)
                shape.aliases += 1 if selection.alias else 0
                if selection.selection_set is not None:
                    inner = self.selection_set(selection.selection_set)
                    shape.depth = max(shape.depth, 1 + inner.depth)
                    shape.aliases += inner.aliases
                    shape.repeats = max(shape.repeats, inner.repeats)
                continue
            if isinstance(selection, InlineFragmentNode):
                inner = self.selection_set(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                inner = self.fragment(selection.name.value)
            else:  # pragma: no cover - the three kinds of selection
                continue
            shape.depth = max(shape.depth, inner.depth)
            shape.aliases += inner.aliases
            shape.keys.update(inner.keys)  # a fragment's fields join this set
            shape.repeats = max(shape.repeats, inner.repeats)
            shape.confirms |= inner.confirms
        shape.repeats = max(shape.repeats, max(shape.keys.values(), default=0))
        return shape


def operation_limits(limits: OperationLimits) -> type[ValidationRule]:
    class OperationLimitsRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            fragments = {
                d.name.value: d
                for d in context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            self.measure = _Measure(fragments)
            self.aliases = 0

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            shape = self.measure.selection_set(node.selection_set)
            name = node.name.value if node.name else "anonymous"
            if shape.depth > limits.max_depth:
                self.report_error(
                    GraphQLError(
                        f"'{name}' exceeds maximum operation depth of {limits.max_depth}", node
                    )
                )
            # Repeats of one response key merge into one field (and one resolver call).
            root_fields = {key for key in shape.keys if not key.startswith("__")}
            if len(root_fields) > limits.max_root_fields:
                self.report_error(
                    GraphQLError(
                        f"{len(root_fields)} root fields found. Allowed: {limits.max_root_fields}",
                        node,
                    )
                )
            if shape.repeats > limits.max_repeats:
                self.report_error(
                    GraphQLError(
                        f"A field is selected {shape.repeats} times in one selection set. "
                        f"Allowed: {limits.max_repeats}",
                        node,
                    )
                )
            if len(shape.confirms) > 1:
                self.report_error(
                    GraphQLError("At most one sign-in or code confirmation per request.", node)
                )
            self.aliases += shape.aliases

        def leave_document(self, *_: Any) -> None:
            if self.aliases > limits.max_aliases:
                self.report_error(
                    GraphQLError(f"{self.aliases} aliases found. Allowed: {limits.max_aliases}")
                )

    return OperationLimitsRule
