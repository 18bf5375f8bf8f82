"""The Open Loyalty 4.x emulator: one store's customers, levels, statuses and tokens."""

from customer_gateway.sandbox.open_loyalty.emulator import OpenLoyaltySandbox
from customer_gateway.sandbox.open_loyalty.seed import (
    DEMO_ADMIN_PASSWORD,
    DEMO_ADMIN_USERNAME,
    DEMO_CUSTOMERS,
    DEMO_STORE_CODE,
)

__all__ = [
    "DEMO_ADMIN_PASSWORD",
    "DEMO_ADMIN_USERNAME",
    "DEMO_CUSTOMERS",
    "DEMO_STORE_CODE",
    "OpenLoyaltySandbox",
]
