"""Connector kinds come from entry points; a plugin is checked when it loads."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from customer_gateway.connectors.menu import MenuConnector
from customer_gateway.connectors.protocol import Capability, Connector, UnsupportedOperations
from customer_gateway.connectors.registry import (
    ConnectorKindError,
    build_connector,
    load_connector_kinds,
)
from customer_gateway.connectors.routes import UUID


def test_built_in_kinds_register_through_entry_points() -> None:
    kinds = load_connector_kinds()
    assert {"menu", "kibo", "open_loyalty"} <= set(kinds)
    assert kinds["menu"] is MenuConnector


def test_build_validates_settings_with_the_kinds_model() -> None:
    connector = build_connector(
        "menu",
        {"kind": "menu", "base_url": "http://127.0.0.1:9/api", "application": "a" * 32},
        load_connector_kinds(),
    )
    assert isinstance(connector, Connector)
    assert connector.name == "menu" and Capability.SIGN_IN in connector.capabilities
    with pytest.raises(ConnectorKindError, match="unknown connector kind 'fax'"):
        build_connector("x", {"kind": "fax"}, load_connector_kinds())


class _Settings(BaseModel):
    kind: str


class Overclaiming(UnsupportedOperations):
    """Claims a capability without implementing it: refused at start-up, not on first use."""

    kind: ClassVar[str] = "overclaiming"
    settings_model: ClassVar[type[BaseModel]] = _Settings
    capabilities = frozenset({Capability.LEVELS})
    update_fields: frozenset[str] = frozenset()
    loyalty_backend = None
    customer_id_shape = UUID

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def from_settings(cls, name: str, settings: Any) -> Overclaiming:
        return cls(name)


def test_a_plugin_claiming_what_it_cannot_do_is_refused() -> None:
    with pytest.raises(ConnectorKindError, match="claims 'levels' but does not implement levels"):
        build_connector("o", {"kind": "overclaiming"}, {"overclaiming": Overclaiming})  # type: ignore[dict-item]


class Shapeless(Overclaiming):
    """Says nothing of its ids, so the gateway could not check one before building a path."""

    kind: ClassVar[str] = "shapeless"
    capabilities = frozenset()
    customer_id_shape = None  # type: ignore[assignment]


def test_a_plugin_without_a_customer_id_shape_is_refused() -> None:
    with pytest.raises(ConnectorKindError, match="'s' does not declare customer_id_shape"):
        build_connector("s", {"kind": "shapeless"}, {"shapeless": Shapeless})  # type: ignore[dict-item]


def test_broken_plugins_name_themselves(monkeypatch: pytest.MonkeyPatch) -> None:
    class BrokenEntry:
        name = "broken"

        def load(self) -> Any:
            raise ImportError("no module named vendor_sdk")

    monkeypatch.setattr(
        "customer_gateway.connectors.registry.entry_points", lambda group: [BrokenEntry()]
    )
    with pytest.raises(ConnectorKindError, match="'broken' failed to load"):
        load_connector_kinds()
