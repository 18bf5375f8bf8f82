"""Menu (PAR Ordering) customer API connector."""

from customer_gateway.connectors.menu.connector import MenuConnector, MenuSettings

__all__ = ["MenuConnector", "MenuSettings"]
