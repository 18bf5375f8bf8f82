"""customer-gateway: one GraphQL API in front of several customer backends."""

__version__ = "0.1.0"

__all__ = ["__version__"]
