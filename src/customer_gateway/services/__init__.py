"""Use cases over the connectors: no GraphQL, no HTTP."""

from customer_gateway.services.auth import Caller, admin_key_matches
from customer_gateway.services.backends import Backends
from customer_gateway.services.changes import ChangeService
from customer_gateway.services.customers import MAX_PAGE_SIZE, CustomerService

__all__ = [
    "MAX_PAGE_SIZE",
    "Backends",
    "Caller",
    "ChangeService",
    "CustomerService",
    "admin_key_matches",
]
