"""Builds the gateway's Starlette app from settings: routes, middleware order and lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from customer_gateway.api.context import Services
from customer_gateway.api.schema import SchemaOptions, build_schema
from customer_gateway.api.view import GatewayGraphQL
from customer_gateway.connectors.protocol import Connector
from customer_gateway.connectors.registry import create_connector
from customer_gateway.otp.store import MemoryStore, Store
from customer_gateway.services import Backends, ChangeService, CustomerService
from customer_gateway.settings import LoadedSettings
from customer_gateway.web.health import health_routes
from customer_gateway.web.middleware import RequestIdMiddleware

__all__ = ["build_app", "build_services"]


def build_store(url: str) -> Store:
    if url == "memory://":
        return MemoryStore()
    raise NotImplementedError("only memory:// is available in this build")


def build_services(
    loaded: LoadedSettings, *, connectors: Mapping[str, Connector] | None = None
) -> tuple[Services, Store]:
    """Connectors (one pooled HTTP client each), the store and the use-case services."""
    if connectors is None:
        connectors = {
            name: create_connector(name, backend, loaded.kinds)
            for name, backend in loaded.backends.items()
        }
    backends = Backends(connectors)
    store = build_store(loaded.settings.store.url)
    otp = loaded.settings.otp
    services = Services(
        backends=backends,
        customers=CustomerService(backends),
        changes=ChangeService(backends, store, ttl_s=otp.ttl_s, max_attempts=otp.max_attempts),
        admin_keys=loaded.admin_keys,
    )
    return services, store


def build_app(
    loaded: LoadedSettings,
    *,
    extra_routes: Sequence[BaseRoute] = (),
    default_document: str | None = None,
    connectors: Mapping[str, Connector] | None = None,
) -> Starlette:
    services, store = build_services(loaded, connectors=connectors)
    gateway = loaded.settings.gateway
    schema = build_schema(SchemaOptions(introspection=gateway.introspection))
    graphql = GatewayGraphQL(
        schema, services, graphiql=gateway.graphiql_enabled, default_document=default_document
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await services.backends.aclose()
            await store.aclose()

    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        *health_routes(store, [c.name for c in services.backends]),
        *extra_routes,
    ]
    app = Starlette(routes=routes, middleware=[Middleware(RequestIdMiddleware)], lifespan=lifespan)
    app.state.services = services
    return app
