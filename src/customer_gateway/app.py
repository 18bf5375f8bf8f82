"""Builds the gateway's Starlette app from settings: routes, middleware order and lifespan."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from customer_gateway.api.context import Services
from customer_gateway.api.persisted import DOCUMENTS_MAX_BYTES
from customer_gateway.api.schema import SchemaOptions, build_schema
from customer_gateway.api.trusted_documents import TrustedDocuments
from customer_gateway.api.view import GatewayGraphQL
from customer_gateway.connectors.config import BackendSettings
from customer_gateway.connectors.protocol import Connector
from customer_gateway.connectors.registry import create_connector
from customer_gateway.observability.tracing import enable_tracing
from customer_gateway.otp.codes import CodeHasher
from customer_gateway.otp.notify import (
    Notifier,
    OutboxNotifier,
    SmtpNotifier,
    SmtpSettings,
    WebhookNotifier,
)
from customer_gateway.services import Backends, ChangeService, CustomerService
from customer_gateway.services.changes import ChangeLimits
from customer_gateway.services.loyalty import LoyaltyService
from customer_gateway.settings import LoadedSettings, OtpSection
from customer_gateway.store import Store, build_store, persisted_documents, rate_counters
from customer_gateway.web.admission import BodySizeLimitMiddleware, CsrfMiddleware
from customer_gateway.web.cache_control import PrivateAnswersMiddleware
from customer_gateway.web.cors import cors_middleware
from customer_gateway.web.graphiql_assets import ASSETS_PREFIX, graphiql_asset_routes
from customer_gateway.web.health import health_routes
from customer_gateway.web.last_resort import LastResortMiddleware
from customer_gateway.web.rate_limit import RateLimitMiddleware, RateLimits
from customer_gateway.web.request_id import RequestIdMiddleware

__all__ = ["build_app", "build_services"]


def build_notifier(otp: OtpSection, secret: bytes) -> Notifier:
    webhook = WebhookNotifier(str(otp.webhook_url), secret) if otp.webhook_url else None
    if otp.notifier == "webhook" and webhook is not None:
        return webhook
    if otp.notifier == "smtp" and otp.smtp_host and otp.smtp_from:
        smtp = SmtpSettings(
            host=otp.smtp_host,
            port=otp.smtp_port,
            sender=otp.smtp_from,
            username=otp.smtp_username,
            password=otp.smtp_password.get_secret_value() if otp.smtp_password else None,
            starttls=otp.smtp_starttls,
        )
        return SmtpNotifier(smtp, sms=webhook)
    return OutboxNotifier()


def _otp_secret(otp: OtpSection) -> bytes:
    """The configured key, or a random one for this process (enough for a memory store)."""
    if otp.secret is not None and otp.secret.get_secret_value():
        return otp.secret.get_secret_value().encode()
    return secrets.token_bytes(32)


def build_services(
    loaded: LoadedSettings,
    *,
    connectors: Mapping[str, Connector] | None = None,
    clock: Callable[[], float] = time.time,
) -> tuple[Services, Store]:
    """Connectors (one pooled HTTP client each), the store and the use-case services."""
    if connectors is None:
        connectors = {
            name: create_connector(name, backend, loaded.kinds)
            for name, backend in loaded.backends.items()
        }
    backends = Backends(connectors)
    store = build_store(
        loaded.settings.store.url,
        timeout_s=loaded.settings.store.timeout_s,
        documents_max_bytes=DOCUMENTS_MAX_BYTES,
        clock=clock,
    )
    otp = loaded.settings.otp
    limits = ChangeLimits(
        ttl_s=otp.ttl_s,
        max_attempts=otp.max_attempts,
        sends_per_customer=otp.sends_per_customer,
        send_window_s=otp.send_window_s,
        write_deadlines=_write_deadlines(loaded),
    )
    secret = _otp_secret(otp)
    notifier = build_notifier(otp, secret)
    changes = ChangeService(
        backends,
        store,
        hasher=CodeHasher(secret),
        notifier=notifier,
        limits=limits,
        clock=clock,
    )
    services = Services(
        backends=backends,
        customers=CustomerService(backends),
        changes=changes,
        loyalty=LoyaltyService(backends),
        admin_keys=loaded.admin_keys,
    )
    return services, store


def _write_deadlines(loaded: LoadedSettings) -> dict[str, float]:
    """How long one confirm may hold a change for its backend write: a read and a write, each
    within the backend's own timeouts."""
    return {
        name: 2 * (backend.connect_timeout_s + backend.timeout_s)
        for name, backend in loaded.backends.items()
        if isinstance(backend, BackendSettings)
    }


def build_app(
    loaded: LoadedSettings,
    *,
    extra_routes: Sequence[BaseRoute] = (),
    default_document: str | None = None,
    connectors: Mapping[str, Connector] | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The gateway app; `clock` is for tests that need OTP expiry without waiting."""
    if loaded.settings.telemetry.tracing:
        enable_tracing()
    services, store = build_services(loaded, connectors=connectors, clock=clock)
    gateway = loaded.settings.gateway
    limits = loaded.settings.limits
    schema = build_schema(
        SchemaOptions(
            introspection=gateway.introspection,
            max_document_bytes=limits.max_document_bytes,
            max_representations=limits.max_representations,
        )
    )
    assets = gateway.graphiql_assets if gateway.graphiql_enabled else None
    trusted = loaded.settings.trusted_documents
    graphql = GatewayGraphQL(
        schema,
        services,
        graphiql=gateway.graphiql_enabled,
        persisted_queries=persisted_documents(store) if gateway.persisted_queries else None,
        default_document=default_document,
        asset_prefix=ASSETS_PREFIX if assets else None,
        trusted_documents=TrustedDocuments(loaded.trusted_documents or {}, enforce=trusted.enforce)
        if trusted is not None
        else None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await services.backends.aclose()
            await services.changes.notifier.aclose()
            await store.aclose()

    routes: list[BaseRoute] = [
        Route("/graphql", graphql),  # the view answers every method (405 as a GraphQL body)
        *health_routes(store, lambda: {c.name: c.is_healthy() for c in services.backends}),
        *(graphiql_asset_routes(assets) if assets else []),
        *extra_routes,
    ]
    rate_limits = RateLimits(
        per_address=limits.requests_per_address,
        per_token=limits.requests_per_token,
        window_s=limits.window_s,
        trusted_proxies=tuple(limits.trusted_proxies),
    )
    cors = loaded.settings.cors
    browsers = cors_middleware(
        cors.allow_origins, allow_credentials=cors.allow_credentials, max_age_s=cors.max_age_s
    )
    # Outermost first. CORS sits outside every refusal (429, 413, CSRF, 405), so a browser app
    # can read them, and answers preflights before any of them. The last resort sits inside the
    # request id and the two header-only layers (CORS, private answers), so its answer carries
    # all three, and outside everything that can fail.
    middleware = [
        Middleware(RequestIdMiddleware),
        *([browsers] if browsers is not None else []),
        Middleware(PrivateAnswersMiddleware),
        Middleware(LastResortMiddleware),
        Middleware(
            RateLimitMiddleware,
            counters=rate_counters(store, clock),
            limits=rate_limits,
            clock=clock,
        ),
        Middleware(BodySizeLimitMiddleware, max_bytes=gateway.max_body_bytes),
        Middleware(CsrfMiddleware, page_requests=gateway.graphiql_enabled),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.services = services
    return app
