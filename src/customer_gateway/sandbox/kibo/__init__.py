"""The Kibo Commerce emulator: one tenant's customer API (auth tickets, accounts, contacts)."""

from customer_gateway.sandbox.kibo.emulator import KiboSandbox
from customer_gateway.sandbox.kibo.model import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_CUSTOMERS,
    DEMO_SITE,
    DEMO_TENANT,
)

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_CUSTOMERS",
    "DEMO_SITE",
    "DEMO_TENANT",
    "KiboSandbox",
]
