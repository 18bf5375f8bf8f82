"""The Open Loyalty 4.x connector: customers, levels, points, and the admin operations.

A customer's id is the `id` claim of its token; reads and writes with that token are checked by
Open Loyalty too. Service calls (listing, linking by email, status, activation) use an admin
token from `admin/login_check`, cached and renewed before it expires.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, ClassVar, Literal, TypeVar

import httpx
import pydantic
from pydantic import SecretStr

from customer_gateway.concurrency import gather_bounded
from customer_gateway.connectors.config import BackendSettings
from customer_gateway.connectors.open_loyalty import mapping
from customer_gateway.connectors.payload import count_drift, mapped
from customer_gateway.connectors.protocol import (
    Capability,
    ChangeFlow,
    Credentials,
    CustomerCredentials,
    ServiceCredentials,
    UnsupportedOperations,
)
from customer_gateway.connectors.routes import DIGITS, UUID, Route, UpstreamPath, segment_name
from customer_gateway.connectors.service_token import IssuedToken, ServiceToken
from customer_gateway.connectors.transport import Transport, UpstreamResponse, token_header
from customer_gateway.domain import (
    AuthenticationError,
    AuthResult,
    BackendProtocolError,
    ChangeKind,
    Customer,
    CustomerFilter,
    CustomerPage,
    CustomerUpdate,
    InvalidCredentialsError,
    InvalidTokenError,
    Level,
    LoyaltyStatus,
    NotFoundError,
    OtpError,
    ValidationError,
)

__all__ = ["OpenLoyaltyConnector", "OpenLoyaltySettings"]

T = TypeVar("T")

_LEVELS_TTL_S = 60.0
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_LOOKUP_CONCURRENCY = 25  # per batch: a page of customers, not the whole process


class OpenLoyaltySettings(BackendSettings):
    kind: Literal["open_loyalty"] = "open_loyalty"
    store_code: str = "DEFAULT"
    admin_username: str
    admin_password: SecretStr

    @pydantic.field_validator("store_code")
    @classmethod
    def _one_segment(cls, store_code: str) -> str:
        if not segment_name(store_code):
            raise ValueError("a store code is letters, digits, - and _")
        return store_code


ADMIN_LOGIN = Route("admin/login_check")
TOKEN_REFRESH = Route("token/refresh")


class Routes:
    """The store's endpoints; customer ids are UUIDs, SMS confirmation codes digits."""

    def __init__(self, store: str) -> None:
        self.login = Route(f"{store}/customer/login_check")
        self.customer = Route(f"{store}/customer/{{id}}", id=UUID)
        self.confirm_change = Route(f"{store}/customer/confirm-change/{{code}}", code=DIGITS)
        self.customers = Route(f"{store}/admin/customer")
        self.status = Route(f"{store}/admin/customer/{{id}}/status", id=UUID)
        self.own_status = Route(f"{store}/customer/customer/{{id}}/status", id=UUID)
        self.levels = Route(f"{store}/level")
        self.activate = Route(f"{store}/admin/customer/{{id}}/activate", id=UUID)
        self.deactivate = Route(f"{store}/admin/customer/{{id}}/deactivate", id=UUID)
        self.assign_level = Route(f"{store}/customer/{{id}}/level", id=UUID)


class OpenLoyaltyConnector(UnsupportedOperations):
    transport: Transport
    kind: ClassVar[str] = "open_loyalty"
    settings_model: ClassVar[type[OpenLoyaltySettings]] = OpenLoyaltySettings
    customer_id_shape = UUID
    verified_credential = ChangeKind.EMAIL  # sign-in; changed only behind a gateway code
    capabilities = frozenset(
        {
            Capability.SIGN_IN,
            Capability.REFRESH_TOKEN,
            Capability.CURRENT_CUSTOMER,
            Capability.CUSTOMER_BY_ID,
            Capability.UPDATE_CUSTOMER,
            Capability.CHANGE_EMAIL,
            Capability.CHANGE_PHONE_NUMBER,
            Capability.LIST_CUSTOMERS,
            Capability.LEVELS,
            Capability.LOYALTY,
            Capability.ACTIVATION,
            Capability.ASSIGN_LEVEL,
        }
    )
    update_fields = frozenset(
        {"first_name", "last_name", "gender", "birth_date", "address", "marketing_opt_in"}
    )

    def __init__(
        self,
        name: str,
        settings: OpenLoyaltySettings,
        *,
        http_transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.settings = settings
        self.loyalty_backend = settings.loyalty
        self.routes = Routes(settings.store_code)
        self.transport = Transport.for_backend(
            name, settings, headers={"Accept": "application/json"}, http_transport=http_transport
        )
        self.admin_token = ServiceToken(self._admin_login, clock=clock)
        self._clock = clock
        self._levels: tuple[float, list[Level]] | None = None

    @classmethod
    def from_settings(cls, name: str, settings: Any) -> OpenLoyaltyConnector:
        return cls(name, settings)

    def change_flow(self, kind: ChangeKind) -> ChangeFlow:
        # The phone is a login credential with its own SMS confirmation; email has none.
        return ChangeFlow.BACKEND_OTP if kind is ChangeKind.PHONE_NUMBER else ChangeFlow.GATEWAY_OTP

    # --- tokens ------------------------------------------------------------------------

    async def _admin_login(self) -> IssuedToken:
        response = await self.transport.request(
            "POST",
            ADMIN_LOGIN.path(),
            json={
                "_username": self.settings.admin_username,
                "_password": self.settings.admin_password.get_secret_value(),
            },
            accept=(400, 401),
        )
        if response.status != 200:
            message = "The backend refused the gateway's credentials."
            raise BackendProtocolError(message, backend=self.name)
        token = mapped(self.name, lambda: mapping.token_from_login(response.json()))
        expires = token.expires_at.timestamp() if token.expires_at else self._clock() + 300
        return IssuedToken(token.access_token, expires)

    async def _request(
        self,
        method: str,
        path: UpstreamPath,
        credentials: Credentials,
        *,
        headers: Mapping[str, str] | None = None,
        accept: tuple[int, ...] = (),
        **options: Any,
    ) -> UpstreamResponse:
        """A call with the customer's token, or with the admin token, which a 401 renews (one
        login at a time) before the call is repeated once."""

        async def send(token: str, ok: tuple[int, ...] = accept) -> UpstreamResponse:
            sent = {"Authorization": f"Bearer {token}", **(headers or {})}
            return await self.transport.request(method, path, headers=sent, accept=ok, **options)

        if isinstance(credentials, CustomerCredentials):
            return await send(token_header(credentials.access_token))
        response = await self.admin_token.call(
            lambda token: send(token, (401, *accept)), refused=lambda r: r.status == 401
        )
        if response.status != 401 or 401 in accept:
            return response
        raise AuthenticationError(backend=self.name)

    async def sign_in(self, username: str, password: str) -> AuthResult:
        response = await self.transport.request(
            "POST",
            self.routes.login.path(),
            json={"_username": username, "_password": password},
            accept=(400, 401),
        )
        if response.status != 200:
            raise InvalidCredentialsError(backend=self.name)
        return await self._auth_result(response)

    async def refresh_token(self, refresh_token: str) -> AuthResult:
        response = await self.transport.request(
            "POST", TOKEN_REFRESH.path(), json={"refresh_token": refresh_token}, accept=(400, 401)
        )
        if response.status != 200:
            raise InvalidTokenError(field=("refreshToken",), backend=self.name)
        return await self._auth_result(response)

    async def _auth_result(self, response: UpstreamResponse) -> AuthResult:
        token = mapped(self.name, lambda: mapping.token_from_login(response.json()))
        customer = await self.current_customer(token.access_token)
        return AuthResult(token=token, customer=customer)

    # --- customers ---------------------------------------------------------------------

    def _token_customer(self, access_token: str) -> str:
        """The token's `id` claim, unverified (Open Loyalty checks the token on every call), so
        used only if it has the shape of a customer id: a forged claim reaches no endpoint."""
        customer_id = mapping.token_claims(access_token).get("id")
        if not UUID.matches(customer_id):
            raise AuthenticationError(backend=self.name)
        return str(customer_id)

    async def current_customer(self, access_token: str) -> Customer:
        customer_id = self._token_customer(access_token)
        try:
            return await self.get_customer(customer_id, CustomerCredentials(access_token))
        except NotFoundError:
            raise AuthenticationError(backend=self.name) from None

    async def get_customer(self, native_id: str, credentials: Credentials) -> Customer:
        response = await self._request(
            "GET", self.routes.customer.path(id=native_id), credentials, idempotent=True
        )
        return self._customer(response)

    async def update_customer(
        self, native_id: str, update: CustomerUpdate, credentials: Credentials
    ) -> Customer:
        current = await self.get_customer(native_id, credentials)
        await self._put_form(native_id, mapping.update_fields(update, current), credentials)
        return await self.get_customer(native_id, credentials)

    async def change_credential(
        self, native_id: str, kind: ChangeKind, value: str, credentials: Credentials
    ) -> Customer:
        field = "email" if kind is ChangeKind.EMAIL else "phone"
        await self._put_form(native_id, {field: value}, credentials)
        return await self.get_customer(native_id, credentials)

    async def confirm_change(
        self, native_id: str, kind: ChangeKind, code: str, credentials: Credentials
    ) -> Customer:
        response = await self._request(
            "POST", self.routes.confirm_change.path(code=code), credentials, accept=(400, 404)
        )
        if response.status not in (200, 204):
            raise OtpError("OTP_INVALID", backend=self.name)
        return await self.get_customer(native_id, credentials)

    async def _put_form(
        self, native_id: str, values: dict[str, Any], credentials: Credentials
    ) -> None:
        response = await self._request(
            "PUT",
            self.routes.customer.path(id=native_id),
            credentials,
            headers=_FORM,
            data=dict(mapping.form_fields(values)),
            accept=(400,),
        )
        if response.status == 400:
            body = response.json_or_none()
            raise ValidationError(mapping.field_problems(body), backend=self.name)
        # The PUT answers only {"customerId"}: anything else means we cannot tell what happened.
        if response.json_object().get("customerId") != native_id:
            raise BackendProtocolError(backend=self.name)

    # --- service operations ------------------------------------------------------------

    async def list_customers(
        self, customer_filter: CustomerFilter, offset: int, limit: int
    ) -> CustomerPage:
        per_page = max(limit, 1)
        first_page = offset // per_page + 1
        pages = [first_page] if offset % per_page == 0 else [first_page, first_page + 1]
        rows: list[Customer] = []
        total: int | None = None
        for page in pages:
            params = {
                **mapping.list_params(customer_filter),
                "page": str(page),
                "perPage": str(per_page),
            }
            response = await self._admin_get(self.routes.customers.path(), params)
            found, total = self._customer_list(response)
            rows.extend(found)
        start = offset - (first_page - 1) * per_page
        return CustomerPage(tuple(rows[start : start + limit]), offset, total)

    async def find_by_credentials(
        self, kind: ChangeKind, values: Sequence[str]
    ) -> dict[str, Customer]:
        """Exact-match lookups on the admin list (`strict=1`), concurrent but bounded: Open
        Loyalty has no batch lookup."""
        field = "email" if kind is ChangeKind.EMAIL else "phone"

        async def one(value: str) -> tuple[str, Customer | None]:
            params = {field: value, "strict": "1", "perPage": "2"}
            response = await self._admin_get(self.routes.customers.path(), params)
            found, _ = self._customer_list(response)
            wanted = value.casefold()
            matches = [c for c in found if (c.credential(kind) or "").casefold() == wanted]
            return value, matches[0] if len(matches) == 1 else None  # never guess between two

        calls = [partial(one, value) for value in dict.fromkeys(values)]
        results = await gather_bounded(calls, limit=_LOOKUP_CONCURRENCY)
        return {value: customer for value, customer in results if customer is not None}

    async def loyalty_status(self, native_id: str) -> LoyaltyStatus | None:
        response = await self._admin_get(self.routes.status.path(id=native_id))
        return await self._status(response)

    async def own_loyalty_status(self, access_token: str) -> LoyaltyStatus | None:
        """The customer-scope status, read with the customer's own token: it needs neither the
        profile nor the admin token, so `me` starts it alongside the profile read."""
        customer_id = self._token_customer(access_token)
        response = await self._request(
            "GET",
            self.routes.own_status.path(id=customer_id),
            CustomerCredentials(access_token),
            idempotent=True,
        )
        return await self._status(response)

    async def _status(self, response: UpstreamResponse) -> LoyaltyStatus | None:
        levels = {level.name: level for level in await self.levels()}
        return mapped(
            self.name, lambda: mapping.loyalty_status_from_payload(response.json(), levels)
        )

    async def levels(self) -> list[Level]:
        """The programme's levels (public data), cached for a minute."""
        cached = self._levels
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        response = await self._admin_get(self.routes.levels.path(), {"perPage": "100"})

        def parse() -> list[Level]:
            data = response.json_object()
            rows = data.get("levels")
            if not isinstance(rows, list):
                raise BackendProtocolError(backend=self.name)
            return [mapping.level_from_payload(r) for r in rows if isinstance(r, dict)]

        levels = mapped(self.name, parse)
        self._levels = (self._clock() + _LEVELS_TTL_S, levels)
        return levels

    async def set_active(self, native_id: str, active: bool) -> Customer:
        route = self.routes.activate if active else self.routes.deactivate
        await self._request("POST", route.path(id=native_id), ServiceCredentials())
        return await self.get_customer(native_id, ServiceCredentials())

    async def assign_level(self, native_id: str, level_id: str) -> Customer:
        await self._request(
            "POST",
            self.routes.assign_level.path(id=native_id),
            ServiceCredentials(),
            headers=_FORM,
            data={"levelId": level_id},
        )
        return await self.get_customer(native_id, ServiceCredentials())

    # --- helpers -----------------------------------------------------------------------

    async def _admin_get(
        self, path: UpstreamPath, params: dict[str, str] | None = None
    ) -> UpstreamResponse:
        return await self._request(
            "GET", path, ServiceCredentials(), params=params, idempotent=True
        )

    def _customer(self, response: UpstreamResponse) -> Customer:
        payload = response.json_object()
        count_drift(
            self.name, "customer", payload, mapping.CUSTOMER_FIELDS, mapping.CUSTOMER_EXPECTED
        )
        return mapped(self.name, lambda: mapping.customer_from_payload(self.name, payload))

    def _customer_list(self, response: UpstreamResponse) -> tuple[list[Customer], int | None]:
        return mapped(self.name, lambda: mapping.customers_from_list(self.name, response.json()))
