"""Open Loyalty 4.x customer API connector."""

from customer_gateway.connectors.open_loyalty.connector import (
    OpenLoyaltyConnector,
    OpenLoyaltySettings,
)

__all__ = ["OpenLoyaltyConnector", "OpenLoyaltySettings"]
