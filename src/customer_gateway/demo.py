"""The demo: sandbox backends and the gateway in one process, on one port, with demo data."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from customer_gateway.app import build_app
from customer_gateway.otp.notify import OutboxNotifier
from customer_gateway.sandbox.app import MOUNTS
from customer_gateway.sandbox.kibo import DEMO_APPLICATION, KiboSandbox
from customer_gateway.sandbox.kibo import DEMO_CUSTOMERS as KIBO_CUSTOMERS
from customer_gateway.sandbox.menu import DEMO_APPLICATION_KEY, DEMO_CUSTOMERS, MenuSandbox
from customer_gateway.sandbox.open_loyalty import (
    DEMO_ADMIN_PASSWORD,
    DEMO_ADMIN_USERNAME,
    OpenLoyaltySandbox,
)
from customer_gateway.sandbox.open_loyalty import DEMO_CUSTOMERS as LOYALTY_CUSTOMERS
from customer_gateway.settings import parse_settings

__all__ = [
    "DEMO_ADMIN_KEY",
    "DEMO_ORIGINS",
    "Demo",
    "build_demo",
    "sandbox_config",
    "walkthrough_document",
]

DEMO_ADMIN_KEY = "demo-admin-key-not-for-production"
# Frontend dev servers on this machine (any port) may call the demo from their own origin.
DEMO_ORIGINS = ("http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*")


def walkthrough_document() -> str:
    return files("customer_gateway").joinpath("walkthrough.graphql").read_text(encoding="utf-8")


@dataclass
class Demo:
    app: Starlette
    base_url: str
    menu: MenuSandbox
    loyalty: OpenLoyaltySandbox
    kibo: KiboSandbox

    def banner(self) -> str:
        menu, shopper, loyal = DEMO_CUSTOMERS[0], KIBO_CUSTOMERS[0], LOYALTY_CUSTOMERS[0]
        url = self.base_url
        return "\n".join(
            [
                "customer-gateway demo (sandbox backends, demo data, no credentials needed)",
                f"  GraphiQL:   {url}/graphql",
                "  sign in:",
                f'    backend "menu"     {menu.email} / {menu.password}',
                f'    backend "kibo"     {shopper.email} / {shopper.password}',
                f'    backend "loyalty"  {loyal.email} / {loyal.password}',
                f"  admin key:  X-Api-Key: {DEMO_ADMIN_KEY}",
                f"  CORS:       pages on {', '.join(DEMO_ORIGINS)} may call it",
                "  one-time codes:",
                f"    Menu:                      {url}/sandbox/menu/_sandbox/outbox",
                f"    Open Loyalty (SMS):        {url}/sandbox/loyalty/_sandbox/outbox",
                f"    sent by the gateway:       {url}/_demo/outbox  (Kibo, Open Loyalty email)",
                f"  health:     {url}/healthz   metrics: {url}/metrics",
            ]
        )


def toml_pairs(values: Mapping[str, str | int]) -> str:
    """`key = value` lines (a JSON string is a TOML basic string)."""
    return "\n".join(f"{key} = {json.dumps(value)}" for key, value in values.items())


def demo_config(base_url: str, graphiql_assets: str | None = None) -> str:
    """The demo's gateway.toml: every backend points at its sandbox in this same process."""
    assets = f"graphiql_assets = {json.dumps(graphiql_assets)}" if graphiql_assets else ""
    return f"""
[gateway]
admin_keys = [{json.dumps(DEMO_ADMIN_KEY)}]
introspection = true
log_json = false
{assets}
{_development_sections(base_url, phone_brand=False)}"""


def sandbox_config(base_url: str) -> str:
    """A ready gateway.toml for `serve` against `customer-gateway sandbox` at `base_url`."""
    return f"""# customer-gateway serve --config gateway.toml
# against `customer-gateway sandbox` at {base_url}: its demo credentials, nothing secret.
[gateway]
admin_keys = [{json.dumps(DEMO_ADMIN_KEY)}]  # X-Api-Key for admin operations
introspection = true  # and GraphiQL at /graphql, for development
log_json = false
{_development_sections(base_url, phone_brand=True)}"""


def _development_sections(base_url: str, *, phone_brand: bool) -> str:
    """`[cors]` for dev servers on this machine, `[otp]`, and `[backends.*]` for the sandboxes
    mounted under `base_url`."""
    phone = f"""
[backends.menu-phone]  # a Menu brand whose customers sign in with their phone number
kind = "menu"
base_url = "{base_url}{MOUNTS["menu-phone"]}/api"
application = "{DEMO_APPLICATION_KEY}"
auth_type = "phone"
loyalty = "loyalty"
"""
    return f"""
[cors]
allow_origins = {json.dumps(list(DEMO_ORIGINS))}  # dev servers on this machine, any port

[otp]
notifier = "outbox"  # codes the gateway sends itself stay in its memory

[backends.menu]
kind = "menu"
base_url = "{base_url}{MOUNTS["menu"]}/api"
application = "{DEMO_APPLICATION_KEY}"
auth_type = "email"
loyalty = "loyalty"
{phone if phone_brand else ""}
[backends.kibo]
kind = "kibo"
base_url = "{base_url}{MOUNTS["kibo"]}/api"
auth_url = "{base_url}{MOUNTS["kibo"]}/api"
{toml_pairs(DEMO_APPLICATION)}
loyalty = "loyalty"

[backends.loyalty]
kind = "open_loyalty"
base_url = "{base_url}{MOUNTS["loyalty"]}/api"
admin_username = "{DEMO_ADMIN_USERNAME}"
admin_password = "{DEMO_ADMIN_PASSWORD}"
"""


def build_demo(base_url: str, *, graphiql_assets: str | None = None) -> Demo:
    menu, loyalty, kibo = MenuSandbox(), OpenLoyaltySandbox(), KiboSandbox()
    config = demo_config(base_url, graphiql_assets)
    loaded = parse_settings(config, source="<demo>", env={})
    app = build_app(
        loaded,
        extra_routes=[
            Mount(MOUNTS["menu"], app=menu.app),
            Mount(MOUNTS["loyalty"], app=loyalty.app),
            Mount(MOUNTS["kibo"], app=kibo.app),
            Route("/_demo/outbox", _gateway_outbox),
        ],
        default_document=walkthrough_document(),
    )
    return Demo(app=app, base_url=base_url, menu=menu, loyalty=loyalty, kibo=kibo)


async def _gateway_outbox(request: Request) -> JSONResponse:
    """The codes the gateway itself sent (its `outbox` notifier), for the demo only."""
    notifier = request.app.state.services.changes.notifier
    messages = notifier.messages if isinstance(notifier, OutboxNotifier) else []
    return JSONResponse([m.payload() for m in messages])
