"""The Kibo Commerce emulator: one tenant's customer API (auth tickets, accounts, contacts).

Its demo tenant, site and application credentials are in `model`."""

from customer_gateway.sandbox.kibo.emulator import KiboSandbox
from customer_gateway.sandbox.kibo.model import DEMO_CUSTOMERS

__all__ = ["DEMO_CUSTOMERS", "KiboSandbox"]
