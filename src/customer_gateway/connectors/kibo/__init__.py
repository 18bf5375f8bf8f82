"""Kibo Commerce customer API connector."""

from customer_gateway.connectors.kibo.connector import KiboConnector, KiboSettings

__all__ = ["KiboConnector", "KiboSettings"]
