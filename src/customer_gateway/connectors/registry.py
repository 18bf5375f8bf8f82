"""Connector kinds discovered from the `customer_gateway.connectors` entry-point group.

The built-in kinds register there too, so a third-party package adds a backend kind the same
way, and a broken plugin fails at start-up with its name rather than on the first request.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel

from customer_gateway.connectors.protocol import Capability, Connector, ConnectorFactory

__all__ = [
    "ENTRY_POINT_GROUP",
    "ConnectorKindError",
    "build_connector",
    "create_connector",
    "load_connector_kinds",
]

ENTRY_POINT_GROUP = "customer_gateway.connectors"

# Operations a connector must implement for real (not inherit as UNSUPPORTED) to claim a capability.
_CAPABILITY_METHODS: Mapping[Capability, tuple[str, ...]] = {
    Capability.SIGN_IN: ("sign_in",),
    Capability.REFRESH_TOKEN: ("refresh_token",),
    Capability.CURRENT_CUSTOMER: ("current_customer",),
    Capability.CUSTOMER_BY_ID: ("get_customer",),
    Capability.UPDATE_CUSTOMER: ("update_customer",),
    Capability.CHANGE_EMAIL: ("change_credential",),
    Capability.CHANGE_PHONE_NUMBER: ("change_credential",),
    Capability.LIST_CUSTOMERS: ("list_customers",),
    Capability.LEVELS: ("levels",),
    Capability.LOYALTY: ("loyalty_status", "find_by_credentials"),
    Capability.ACTIVATION: ("set_active",),
    Capability.ASSIGN_LEVEL: ("assign_level",),
}


class ConnectorKindError(Exception):
    """A connector kind is unknown or its plugin is broken."""


def load_connector_kinds() -> dict[str, ConnectorFactory]:
    kinds: dict[str, ConnectorFactory] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            factory = entry.load()
        except Exception as exc:  # a broken plugin must name itself, whatever it raised
            raise ConnectorKindError(
                f"connector plugin {entry.name!r} failed to load: {exc}"
            ) from exc
        if not (
            isinstance(getattr(factory, "kind", None), str)
            and isinstance(getattr(factory, "settings_model", None), type)
            and issubclass(factory.settings_model, BaseModel)
            and callable(getattr(factory, "from_settings", None))
        ):
            raise ConnectorKindError(
                f"connector plugin {entry.name!r} lacks kind, settings_model or from_settings"
            )
        kinds[factory.kind] = factory
    return kinds


def build_connector(
    name: str, raw: Mapping[str, Any], kinds: Mapping[str, ConnectorFactory]
) -> Connector:
    """Validate `[backends.<name>]` with its kind's settings model and build the connector."""
    kind = raw.get("kind")
    if kind not in kinds:
        known = ", ".join(sorted(kinds)) or "none installed"
        raise ConnectorKindError(f"unknown connector kind {kind!r} (known: {known})")
    settings = kinds[str(kind)].settings_model.model_validate(dict(raw))
    return create_connector(name, settings, kinds)


def create_connector(
    name: str, settings: BaseModel, kinds: Mapping[str, ConnectorFactory]
) -> Connector:
    """The connector for already-validated settings, checked against the capabilities it claims."""
    connector = kinds[str(getattr(settings, "kind", ""))].from_settings(name, settings)
    _check_capabilities(connector)
    return connector


def _check_capabilities(connector: Connector) -> None:
    from customer_gateway.connectors.protocol import UnsupportedOperations
    from customer_gateway.connectors.routes import IdShape

    if not isinstance(getattr(connector, "customer_id_shape", None), IdShape):
        raise ConnectorKindError(
            f"connector {connector.name!r} does not declare customer_id_shape (an IdShape)"
        )

    for capability in connector.capabilities:
        for method in _CAPABILITY_METHODS[capability]:
            implementation = getattr(type(connector), method, None)
            if implementation is None or implementation is getattr(UnsupportedOperations, method):
                raise ConnectorKindError(
                    f"connector {connector.name!r} claims {capability.value!r} "
                    f"but does not implement {method}()"
                )
