"""What the contract suite needs to know about one connector kind, and what the kind declares.

A ConnectorCase names the kind (as its entry point registers it), how to start a fresh sandbox
of its vendor, the `[backends.<name>]` settings that point the connector at that sandbox, and
two demo customers. What the connector declares (capabilities, writable fields, change flows,
customer id shape) is read from the connector itself, built through the same entry points the
gateway uses, so the suite tests what the kind claims rather than what its case says.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

from customer_gateway.connectors.protocol import Capability, ChangeFlow
from customer_gateway.connectors.registry import build_connector, load_connector_kinds
from customer_gateway.connectors.routes import IdShape
from customer_gateway.domain import ChangeKind
from customer_gateway.sandbox.emulator import Emulator
from customer_gateway.sandbox.journal import Journal

__all__ = ["CHANGE_CAPABILITY", "ConnectorCase", "Declared", "declared", "e164"]

CHANGE_CAPABILITY = {
    ChangeKind.EMAIL: Capability.CHANGE_EMAIL,
    ChangeKind.PHONE_NUMBER: Capability.CHANGE_PHONE_NUMBER,
}
# Where the connector is built to read its declarations; nothing is ever sent there.
_NOWHERE = "http://127.0.0.1:9"


@dataclass(frozen=True)
class ConnectorCase:
    """One connector kind under contract, against its vendor's sandbox.

    Example:
        ConnectorCase(
            kind="menu",
            sandbox=MenuSandbox,
            settings=lambda url: {"base_url": f"{url}/api", "application": DEMO_APPLICATION_KEY},
            customer=("ada.lovelace@example.com", "menu-demo-pass"),
            other_customer=("grace.hopper@example.com", "menu-demo-pass-2"),
            token_lifetime_s=3600,
        )
    """

    kind: str  # the connector kind, as its `customer_gateway.connectors` entry point names it
    sandbox: Callable[[], Emulator]  # a fresh sandbox of the vendor, seeded with the customers
    settings: Callable[[str], Mapping[str, object]]  # backend keys for a sandbox at this URL
    customer: tuple[str, str]  # a demo customer's email and password
    other_customer: tuple[str, str]  # another one's
    token_lifetime_s: float | None = None  # how long the sandbox's access tokens live
    name: str = ""  # the backend's name in the gateway and in test ids (default: the kind)
    new_email: str = "contract.change@example.org"  # an address no demo customer holds
    new_phone_number: str = "+1 415 555 0199"  # a number no demo customer holds
    write_methods: tuple[str, ...] = ("PUT", "PATCH", "DELETE")  # how the vendor API writes

    @property
    def backend(self) -> str:
        return self.name or self.kind

    def backend_settings(self, sandbox_url: str, **transport: object) -> dict[str, object]:
        """`[backends.<name>]` for a sandbox at `sandbox_url`, with transport keys on top."""
        return {"kind": self.kind, **self.settings(sandbox_url), **transport}

    def writes(self, journal: Journal) -> int:
        """How many requests in the journal wrote to the vendor."""
        return sum(1 for entry in journal.entries if entry.method in self.write_methods)

    def __str__(self) -> str:
        return self.backend


@dataclass(frozen=True)
class Declared:
    """What a connector says about itself; the suite tests each claim, and each absence."""

    capabilities: frozenset[Capability]
    update_fields: frozenset[str]
    flows: Mapping[ChangeKind, ChangeFlow]  # for the changes it declares
    id_shape: IdShape


@cache
def declared(case: ConnectorCase) -> Declared:
    """The case's connector, built as the gateway builds it, asked what it declares."""
    raw = case.backend_settings(_NOWHERE)
    connector = build_connector(case.backend, raw, load_connector_kinds())
    try:
        return Declared(
            capabilities=frozenset(connector.capabilities),
            update_fields=frozenset(connector.update_fields),
            flows={
                kind: connector.change_flow(kind)
                for kind, capability in CHANGE_CAPABILITY.items()
                if capability in connector.capabilities
            },
            id_shape=connector.customer_id_shape,
        )
    finally:
        asyncio.run(connector.aclose())


def e164(phone_number: str) -> str:
    """A phone number as the gateway normalises one it accepts: `+` and digits only."""
    return re.sub(r"[^+0-9]", "", phone_number)
