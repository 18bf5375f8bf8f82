"""Use cases over the connectors: no GraphQL, no HTTP."""

from customer_gateway.services.auth import Caller, admin_key_matches
from customer_gateway.services.backends import Backends
from customer_gateway.services.batching import Batch, Batches
from customer_gateway.services.changes import ChangeService
from customer_gateway.services.customers import MAX_PAGE_SIZE, CustomerService
from customer_gateway.services.identity import Identity
from customer_gateway.services.loyalty import LoyaltyService, Shown, StatusRead
from customer_gateway.services.reads import CustomerReads

__all__ = [
    "MAX_PAGE_SIZE",
    "Backends",
    "Batch",
    "Batches",
    "Caller",
    "ChangeService",
    "CustomerReads",
    "CustomerService",
    "Identity",
    "LoyaltyService",
    "Shown",
    "StatusRead",
    "admin_key_matches",
]
