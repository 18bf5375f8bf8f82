"""The connector contract for the built-in kinds, each against its vendor's sandbox.

Menu runs twice: an email-auth brand (email confirmed by Menu's code, phone changed directly)
and a phone-auth one (the other way round).
"""

from __future__ import annotations

from customer_gateway.sandbox.kibo import DEMO_APPLICATION, KiboSandbox
from customer_gateway.sandbox.menu import DEMO_APPLICATION_KEY, MenuSandbox
from customer_gateway.sandbox.open_loyalty import (
    DEMO_ADMIN_PASSWORD,
    DEMO_ADMIN_USERNAME,
    OpenLoyaltySandbox,
)
from customer_gateway.testing import ConnectorCase, ConnectorContract

MENU = ConnectorCase(
    kind="menu",
    sandbox=MenuSandbox,
    settings=lambda url: {"base_url": f"{url}/api", "application": DEMO_APPLICATION_KEY},
    customer=("ada.lovelace@example.com", "menu-demo-pass"),
    other_customer=("grace.hopper@example.com", "menu-demo-pass-2"),
    token_lifetime_s=60 * 60,  # Menu's ttl is in minutes: a login token lives 60 of them
    new_email="Ada@Example.org",
    new_phone_number="+44 20 7946 0958",
)
MENU_PHONE_BRAND = ConnectorCase(
    kind="menu",
    name="menu-phone",
    sandbox=lambda: MenuSandbox(auth_type="phone"),
    settings=lambda url: {
        "base_url": f"{url}/api",
        "application": DEMO_APPLICATION_KEY,
        "auth_type": "phone",
    },
    customer=("ada.lovelace@example.com", "menu-demo-pass"),
    other_customer=("grace.hopper@example.com", "menu-demo-pass-2"),
    token_lifetime_s=60 * 60,
    new_email="ada@example.org",
)
KIBO = ConnectorCase(
    kind="kibo",
    sandbox=KiboSandbox,
    settings=lambda url: {
        "base_url": f"{url}/api",
        "auth_url": f"{url}/api",
        **DEMO_APPLICATION,
    },
    customer=("ada.lovelace@example.com", "kibo-demo-pass"),
    other_customer=("katherine.johnson@example.com", "kibo-demo-pass-2"),
    token_lifetime_s=15 * 60,
)
OPEN_LOYALTY = ConnectorCase(
    kind="open_loyalty",
    name="loyalty",
    sandbox=OpenLoyaltySandbox,
    settings=lambda url: {
        "base_url": f"{url}/api",
        "admin_username": DEMO_ADMIN_USERNAME,
        "admin_password": DEMO_ADMIN_PASSWORD,
    },
    customer=("ada.lovelace@example.com", "loyalty-demo-pass"),
    other_customer=("katherine.johnson@example.com", "loyalty-demo-pass-2"),
    token_lifetime_s=24 * 60 * 60,
)


class TestBuiltInConnectors(ConnectorContract):
    cases = (MENU, MENU_PHONE_BRAND, KIBO, OPEN_LOYALTY)
