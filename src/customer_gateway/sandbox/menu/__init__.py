"""The Menu (PAR Ordering) emulator: one brand's customer API, email- or phone-auth."""

from customer_gateway.sandbox.menu.emulator import MenuSandbox
from customer_gateway.sandbox.menu.model import DEMO_APPLICATION_KEY, DEMO_CUSTOMERS
from customer_gateway.sandbox.menu.rules import BIRTHDAY_DEMOGRAPHIC_ID

__all__ = [
    "BIRTHDAY_DEMOGRAPHIC_ID",
    "DEMO_APPLICATION_KEY",
    "DEMO_CUSTOMERS",
    "MenuSandbox",
]
