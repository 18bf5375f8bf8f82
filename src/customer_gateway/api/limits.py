"""Operation shape limits that Strawberry's extensions do not cover: root fields per operation,
and at most one OTP-confirm field per document (no guessing codes in bulk through aliases).

Fragments are expanded, so a limit cannot be dodged by moving fields into a fragment.
"""

from __future__ import annotations

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

__all__ = ["OTP_CONFIRM_FIELDS", "root_field_limits"]

OTP_CONFIRM_FIELDS = frozenset({"confirmEmailChange", "confirmPhoneNumberChange"})


def _root_fields(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str] = frozenset(),
) -> list[FieldNode]:
    fields: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            fields.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            fields.extend(_root_fields(selection.selection_set, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:  # cycles are graphql-core's to report
                fields.extend(_root_fields(fragment.selection_set, fragments, seen | {name}))
    return fields


def root_field_limits(max_root_fields: int) -> type[ValidationRule]:
    class RootFieldLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.fragments = {
                d.name.value: d
                for d in context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fields = [
                f
                for f in _root_fields(node.selection_set, self.fragments)
                if not f.name.value.startswith("__")
            ]
            # Repeats of one response key merge into one field (and one resolver call).
            keys = {(f.alias or f.name).value for f in fields}
            if len(keys) > max_root_fields:
                self.report_error(
                    GraphQLError(f"{len(keys)} root fields found. Allowed: {max_root_fields}", node)
                )
            confirms = [f for f in fields if f.name.value in OTP_CONFIRM_FIELDS]
            if len(confirms) > 1:
                self.report_error(
                    GraphQLError("At most one code confirmation per request.", confirms[1])
                )

    return RootFieldLimits
