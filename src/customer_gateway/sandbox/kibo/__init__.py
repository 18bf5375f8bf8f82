"""The Kibo Commerce emulator: one tenant's customer API (auth tickets, accounts, contacts)."""

from customer_gateway.sandbox.kibo.emulator import KiboSandbox
from customer_gateway.sandbox.kibo.model import DEMO_APPLICATION, DEMO_CUSTOMERS

__all__ = ["DEMO_APPLICATION", "DEMO_CUSTOMERS", "KiboSandbox"]
