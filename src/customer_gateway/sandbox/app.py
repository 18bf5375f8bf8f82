"""All vendor emulators in one Starlette app, for the `sandbox` command."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount

from customer_gateway.sandbox.kibo import KiboSandbox
from customer_gateway.sandbox.menu import MenuSandbox
from customer_gateway.sandbox.open_loyalty import OpenLoyaltySandbox

__all__ = ["MOUNTS", "build_sandbox_app"]

# Where each emulator lives; its vendor API answers at <mount>/api.
MOUNTS = {
    "menu": "/sandbox/menu",
    "menu-phone": "/sandbox/menu-phone",
    "loyalty": "/sandbox/loyalty",
    "kibo": "/sandbox/kibo",
}


def build_sandbox_app(base_url: str) -> tuple[Starlette, str]:
    """The emulators alone, with a description of where each one answers."""
    sandboxes: dict[str, MenuSandbox | OpenLoyaltySandbox | KiboSandbox] = {
        "menu": MenuSandbox(),
        "menu-phone": MenuSandbox(auth_type="phone"),
        "loyalty": OpenLoyaltySandbox(),
        "kibo": KiboSandbox(),
    }
    lines = ["customer-gateway sandbox (vendor emulators with demo data)"]
    for name, mount in MOUNTS.items():
        lines.append(f"  {name:10} {base_url}{mount}/api")
        lines.append(f"  {'':10} one-time codes: {base_url}{mount}/_sandbox/outbox")
    routes = [Mount(MOUNTS[name], app=sandbox.app) for name, sandbox in sandboxes.items()]
    return Starlette(routes=routes), "\n".join(lines)
