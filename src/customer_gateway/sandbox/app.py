"""All vendor emulators in one Starlette app, for the `sandbox` command and the demo."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.routing import Mount

from customer_gateway.sandbox.kibo import KiboSandbox
from customer_gateway.sandbox.menu import MenuSandbox
from customer_gateway.sandbox.open_loyalty import OpenLoyaltySandbox

__all__ = ["MOUNTS", "Sandboxes", "build_sandbox_app"]

# Where each emulator lives under the sandbox app; its vendor API is at <mount>/api.
MOUNTS = {"menu": "/sandbox/menu", "kibo": "/sandbox/kibo", "loyalty": "/sandbox/loyalty"}


@dataclass
class Sandboxes:
    menu: MenuSandbox = field(default_factory=MenuSandbox)
    kibo: KiboSandbox = field(default_factory=KiboSandbox)
    loyalty: OpenLoyaltySandbox = field(default_factory=OpenLoyaltySandbox)

    def mounts(self) -> list[Mount]:
        return [
            Mount(MOUNTS["menu"], app=self.menu.app),
            Mount(MOUNTS["kibo"], app=self.kibo.app),
            Mount(MOUNTS["loyalty"], app=self.loyalty.app),
        ]


def build_sandbox_app(base_url: str) -> tuple[Starlette, str]:
    """The emulators alone, with a description of where each one answers."""
    sandboxes = Sandboxes()
    lines = ["customer-gateway sandbox (vendor emulators with demo data)"]
    for name, mount in MOUNTS.items():
        lines.append(
            f"  {name:8} {base_url}{mount}/api   (OTP outbox: {base_url}{mount}/_sandbox/outbox)"
        )
    return Starlette(routes=sandboxes.mounts()), "\n".join(lines)
