"""The Kibo Commerce connector: shopper auth tickets, accounts, contacts and admin listings.

Every tenant call carries the application token (client credentials, cached and renewed) as
Bearer plus the tenant and site headers; shopper calls add the customer's ticket `accessToken`
in `x-vol-user-claims`. Kibo has no email/phone confirmation flow, so the gateway runs one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal, TypeVar

import httpx
from pydantic import HttpUrl, SecretStr

from customer_gateway.connectors.config import BackendSettings
from customer_gateway.connectors.kibo import mapping
from customer_gateway.connectors.payload import count_drift, mapped
from customer_gateway.connectors.protocol import (
    Capability,
    ChangeFlow,
    Credentials,
    CustomerCredentials,
    ServiceCredentials,
    UnsupportedOperations,
)
from customer_gateway.connectors.routes import INT32, Route, UpstreamPath
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
    FieldProblem,
    InvalidCredentialsError,
    InvalidInputError,
    InvalidTokenError,
    UnsupportedError,
    ValidationError,
)

__all__ = ["KiboConnector", "KiboSettings"]

T = TypeVar("T")

_MAX_PAGE_SIZE = 200

# Account and contact ids are int32.
APP_TOKEN = Route("platform/applications/authtickets/oauth")
SIGN_IN = Route("commerce/customer/authtickets")
REFRESH = Route("commerce/customer/authtickets/refresh")
CURRENT = Route("commerce/customer/accounts/current")
ACCOUNTS = Route("commerce/customer/accounts")
ACCOUNT = Route("commerce/customer/accounts/{id}", id=INT32)
ACTION = Route("commerce/customer/accounts/{id}/action", id=INT32)
CONTACTS = Route("commerce/customer/accounts/{id}/contacts", id=INT32)
CONTACT = Route("commerce/customer/accounts/{id}/contacts/{contact}", id=INT32, contact=INT32)


class KiboSettings(BackendSettings):
    kind: Literal["kibo"] = "kibo"
    auth_url: HttpUrl
    tenant: int
    site: int
    client_id: str
    client_secret: SecretStr


class KiboConnector(UnsupportedOperations):
    transport: Transport
    kind: ClassVar[str] = "kibo"
    settings_model: ClassVar[type[KiboSettings]] = KiboSettings
    customer_id_shape = INT32
    verified_credential = ChangeKind.EMAIL  # the shopper's sign-in; changed behind a code
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
            Capability.ACTIVATION,
        }
    )
    update_fields = frozenset({"first_name", "last_name", "locale", "marketing_opt_in"})

    def __init__(
        self,
        name: str,
        settings: KiboSettings,
        *,
        http_transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.settings = settings
        self.loyalty_backend = settings.loyalty
        json_headers = {"Accept": "application/json", "Content-Type": "application/json"}
        tenant = {"x-vol-tenant": str(settings.tenant), "x-vol-site": str(settings.site)}
        self.transport = Transport.for_backend(
            name, settings, headers={**json_headers, **tenant}, http_transport=http_transport
        )
        self.auth_transport = Transport.for_backend(
            name,
            settings,
            base_url=str(settings.auth_url).rstrip("/"),
            headers=json_headers,
            http_transport=http_transport,
        )
        self.app_token = ServiceToken(self._fetch_app_token, clock=clock)
        self._clock = clock

    @classmethod
    def from_settings(cls, name: str, settings: Any) -> KiboConnector:
        return cls(name, settings)

    async def aclose(self) -> None:
        await self.transport.aclose()
        await self.auth_transport.aclose()

    def change_flow(self, kind: ChangeKind) -> ChangeFlow:
        return ChangeFlow.GATEWAY_OTP

    def is_healthy(self) -> bool:
        return self.transport.breaker.healthy and self.auth_transport.breaker.healthy

    # --- the application token ---------------------------------------------------------

    async def _fetch_app_token(self) -> IssuedToken:
        response = await self.auth_transport.request(
            "POST",
            APP_TOKEN.path(),
            json={
                "client_id": self.settings.client_id,
                "client_secret": self.settings.client_secret.get_secret_value(),
                "grant_type": "client_credentials",
            },
            accept=(400, 401, 403),
        )
        if response.status != 200:
            # Our own credentials were refused: a configuration problem, not the caller's.
            raise BackendProtocolError(
                "The backend refused the gateway's credentials.", backend=self.name
            )
        data = self._json(response)
        token = data.get("access_token")
        expires_in = data.get("expires_in")
        if not isinstance(token, str) or not isinstance(expires_in, int | float):
            raise BackendProtocolError(backend=self.name)
        return IssuedToken(token, self._clock() + float(expires_in))

    async def _call(
        self,
        method: str,
        path: UpstreamPath,
        *,
        user_claims: str | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        accept: tuple[int, ...] = (),
    ) -> UpstreamResponse:
        """A tenant call with the app token. A 401 renews the app token (one login at a time)
        and repeats the call once; a 401 after that is the caller's (returned if accepted)."""
        claims = None if user_claims is None else token_header(user_claims)

        async def send(app_token: str) -> UpstreamResponse:
            headers = {"Authorization": f"Bearer {app_token}"}
            if claims is not None:
                headers["x-vol-user-claims"] = claims
            return await self.transport.request(
                method,
                path,
                headers=headers,
                params=params,
                json=json,
                idempotent=method == "GET",
                accept=(401, *accept),
            )

        response = await self.app_token.call(send, refused=_unauthorized)
        if response.status != 401 or 401 in accept:
            return response
        raise AuthenticationError(backend=self.name)

    # --- shopper operations ------------------------------------------------------------

    async def sign_in(self, username: str, password: str) -> AuthResult:
        response = await self._call(
            "POST",
            SIGN_IN.path(),
            json={"username": username, "password": password},
            accept=(400, 401, 403, 404),
        )
        if response.status != 200:
            raise InvalidCredentialsError(backend=self.name)
        return self._ticket(response)

    async def refresh_token(self, refresh_token: str) -> AuthResult:
        response = await self._call(
            "PUT",
            REFRESH.path(),
            params={"refreshToken": refresh_token},
            accept=(400, 401, 403, 404),
        )
        if response.status != 200:
            raise InvalidTokenError(field=("refreshToken",), backend=self.name)
        return self._ticket(response)

    async def current_customer(self, access_token: str) -> Customer:
        response = await self._call("GET", CURRENT.path(), user_claims=access_token)
        return self._customer(response)

    async def get_customer(self, native_id: str, credentials: Credentials) -> Customer:
        return self._customer(await self._get_account(native_id, credentials))

    async def update_customer(
        self, native_id: str, update: CustomerUpdate, credentials: Credentials
    ) -> Customer:
        account = self._json(await self._get_account(native_id, credentials))
        body = mapping.account_with_update(account, update)
        return await self._put_account(native_id, body, credentials, field="update")

    async def change_credential(
        self, native_id: str, kind: ChangeKind, value: str, credentials: Credentials
    ) -> Customer:
        account = self._json(await self._get_account(native_id, credentials))
        if kind is ChangeKind.EMAIL:
            body = mapping.account_with_email(account, value)
            return await self._put_account(native_id, body, credentials, field="email")
        contact = mapping.primary_contact(account.get("contacts"))
        contact_body = mapping.contact_with_phone(contact, account, value)
        claims = _claims(credentials)
        if contact is not None and contact.get("id") is not None:
            method, path = "PUT", CONTACT.path(id=native_id, contact=str(contact["id"]))
        else:
            method, path = "POST", CONTACTS.path(id=native_id)
        response = await self._call(
            method, path, user_claims=claims, json=contact_body, accept=(400, 409)
        )
        if response.status != 200:
            code = "TAKEN" if response.status == 409 else "INVALID"
            raise ValidationError([FieldProblem.of(("phone_number",), code)])
        return self._customer(await self._get_account(native_id, credentials))

    # --- service operations ------------------------------------------------------------

    async def list_customers(
        self, customer_filter: CustomerFilter, offset: int, limit: int
    ) -> CustomerPage:
        if customer_filter.phone_number is not None:
            raise InvalidInputError("Kibo cannot filter customers by phone number.")
        params: dict[str, Any] = {"startIndex": offset, "pageSize": min(limit, _MAX_PAGE_SIZE)}
        expression = mapping.filter_expression(customer_filter)
        if expression:
            params["filter"] = expression
        if limit == 0:
            params["pageSize"] = 1
        response = await self._call("GET", ACCOUNTS.path(), params=params)
        page = self._page(response, offset)
        if limit == 0:
            return CustomerPage(customers=(), offset=offset, total=page.total)
        return page

    async def get_customers(
        self, native_ids: Sequence[str], credentials: Credentials
    ) -> dict[str, Customer]:
        """One filtered list call per 50 ids (service scope), instead of one read per id."""
        if isinstance(credentials, CustomerCredentials):
            return await super().get_customers(native_ids, credentials)
        ids = [i for i in dict.fromkeys(native_ids) if INT32.matches(i)]
        found: dict[str, Customer] = {}
        for start in range(0, len(ids), 50):
            chunk = ids[start : start + 50]
            params = {
                "startIndex": 0,
                "pageSize": len(chunk),
                "filter": " or ".join(f"id eq {i}" for i in chunk),
            }
            response = await self._call("GET", ACCOUNTS.path(), params=params)
            found.update({c.native_id: c for c in self._page(response, 0).customers})
        return found

    async def find_by_credentials(
        self, kind: ChangeKind, values: Sequence[str]
    ) -> dict[str, Customer]:
        """Accounts by exact email (service scope): Kibo filters accounts by email address, not
        by phone number, so a phone lookup is UNSUPPORTED."""
        if kind is not ChangeKind.EMAIL:
            raise UnsupportedError(backend=self.name)
        found: dict[str, Customer] = {}
        for value in dict.fromkeys(values):
            expression = mapping.filter_expression(CustomerFilter(email=value))
            params = {"startIndex": 0, "pageSize": 2, "filter": expression}
            response = await self._call("GET", ACCOUNTS.path(), params=params)
            wanted = value.casefold()
            matches = [
                c for c in self._page(response, 0).customers if (c.email or "").casefold() == wanted
            ]
            if len(matches) == 1:
                found[value] = matches[0]
        return found

    async def set_active(self, native_id: str, active: bool) -> Customer:
        action = "EnableAccount" if active else "DisableAccount"
        await self._call(
            "POST",
            ACTION.path(id=native_id),
            json={"actionName": action},
        )
        return await self.get_customer(native_id, _SERVICE)

    # --- helpers -----------------------------------------------------------------------

    async def _get_account(self, native_id: str, credentials: Credentials) -> UpstreamResponse:
        return await self._call(
            "GET",
            ACCOUNT.path(id=native_id),
            user_claims=_claims(credentials),
        )

    async def _put_account(
        self, native_id: str, body: dict[str, Any], credentials: Credentials, *, field: str
    ) -> Customer:
        response = await self._call(
            "PUT",
            ACCOUNT.path(id=native_id),
            user_claims=_claims(credentials),
            json=body,
            accept=(400, 409),
        )
        if response.status != 200:
            code = "TAKEN" if response.status == 409 else "INVALID"
            path = (field,) if field == "email" else None
            raise ValidationError([FieldProblem.of(path, code)])
        return self._customer(response)

    def _customer(self, response: UpstreamResponse) -> Customer:
        account = self._json(response)
        count_drift(self.name, "account", account, mapping.ACCOUNT_FIELDS, mapping.ACCOUNT_EXPECTED)
        return mapped(self.name, lambda: mapping.customer_from_account(self.name, account))

    def _ticket(self, response: UpstreamResponse) -> AuthResult:
        ticket = response.json()
        return mapped(self.name, lambda: mapping.auth_result_from_ticket(self.name, ticket))

    def _page(self, response: UpstreamResponse, offset: int) -> CustomerPage:
        collection = response.json()
        return mapped(
            self.name, lambda: mapping.page_from_collection(self.name, collection, offset)
        )

    def _json(self, response: UpstreamResponse) -> dict[str, Any]:
        try:
            return response.json_object()
        except BackendProtocolError:
            raise BackendProtocolError(backend=self.name) from None


_SERVICE = ServiceCredentials()


def _unauthorized(response: UpstreamResponse) -> bool:
    return response.status == 401


def _claims(credentials: Credentials) -> str | None:
    return credentials.access_token if isinstance(credentials, CustomerCredentials) else None
