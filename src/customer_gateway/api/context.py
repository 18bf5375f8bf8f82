"""Per-request context: the services, who is calling, and the request's reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

import strawberry
from starlette.requests import Request
from starlette.responses import Response

from customer_gateway.services import Backends, Caller, ChangeService, CustomerService
from customer_gateway.services.loyalty import LoyaltyService
from customer_gateway.services.reads import CustomerReads

__all__ = ["GatewayContext", "Info", "Services"]


@dataclass(frozen=True)
class Services:
    """Built once at start-up and shared by every request."""

    backends: Backends
    customers: CustomerService
    changes: ChangeService
    loyalty: LoyaltyService
    admin_keys: list[str] = field(repr=False)


@dataclass
class GatewayContext:
    request: Request
    response: Response
    services: Services
    caller: Caller
    reads: CustomerReads


Info: TypeAlias = strawberry.Info[GatewayContext, None]
