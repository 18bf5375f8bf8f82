"""The Menu connector: customer sign-in, profile and OTP-confirmed credential changes over HTTP.

Menu has no service account and no admin API, so every call carries the customer's own JWT.
The brand's auth type decides which credential goes through Menu's OTP flow; the other one
changes directly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, SecretStr

from customer_gateway.connectors.config import BackendSettings
from customer_gateway.connectors.menu import mapping
from customer_gateway.connectors.payload import count_drift, mapped
from customer_gateway.connectors.protocol import (
    Capability,
    ChangeFlow,
    Credentials,
    CustomerCredentials,
    UnsupportedOperations,
)
from customer_gateway.connectors.routes import UUID, Route
from customer_gateway.connectors.transport import Transport, UpstreamResponse, token_header
from customer_gateway.domain import (
    AuthenticationError,
    AuthResult,
    ChangeKind,
    Customer,
    CustomerUpdate,
    InvalidCredentialsError,
    InvalidTokenError,
    OtpError,
    UnsupportedError,
    ValidationError,
)

__all__ = ["MenuConnector", "MenuSettings"]

# Customer-account ids are UUIDs (the JWT's numeric `sub` is not one of them).
LOGIN = Route("customers/login")
REFRESH = Route("customers/refresh")
ME = Route("customers/me")
ACCOUNT = Route("customer-accounts/{id}", id=UUID)
VERIFY = {
    ChangeKind.EMAIL: Route("customer-accounts/{id}/verify-email-update", id=UUID),
    ChangeKind.PHONE_NUMBER: Route("customer-accounts/{id}/verify-phone-number-update", id=UUID),
}


class MenuSettings(BackendSettings):
    kind: Literal["menu"] = "menu"
    application: SecretStr = Field(description="the brand's Application key")
    api_version: str = "4.38.0"
    auth_type: Literal["email", "phone"] = "email"
    query_building: bool = False
    birthday_demographic_id: str | None = None


class MenuConnector(UnsupportedOperations):
    transport: Transport
    kind: ClassVar[str] = "menu"
    settings_model: ClassVar[type[MenuSettings]] = MenuSettings
    customer_id_shape = UUID
    capabilities = frozenset(
        {
            Capability.SIGN_IN,
            Capability.REFRESH_TOKEN,
            Capability.CURRENT_CUSTOMER,
            Capability.UPDATE_CUSTOMER,
            Capability.CHANGE_EMAIL,
            Capability.CHANGE_PHONE_NUMBER,
        }
    )

    def __init__(
        self,
        name: str,
        settings: MenuSettings,
        *,
        http_transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = name
        self.settings = settings
        self.loyalty_backend = settings.loyalty
        self._now = now
        self._demographic = settings.birthday_demographic_id
        fields = {"first_name", "last_name", "marketing_opt_in"}
        if self._demographic:
            fields.add("birth_date")
        self.update_fields = frozenset(fields)
        # The brand's sign-in credential: Menu verifies it, and changes it only behind its own
        # code; the other one changes directly, so it can never link a loyalty account.
        self._otp_kind = (
            ChangeKind.EMAIL if settings.auth_type == "email" else ChangeKind.PHONE_NUMBER
        )
        self.verified_credential: ChangeKind | None = self._otp_kind
        self.transport = Transport.for_backend(
            name,
            settings,
            headers={
                "Accept": "application/json",
                "Content-Type": "application/json",
                "API-VERSION": settings.api_version,
                "Application": settings.application.get_secret_value(),
                "X-QB-Enabled": "true" if settings.query_building else "false",
            },
            http_transport=http_transport,
        )

    @classmethod
    def from_settings(cls, name: str, settings: Any) -> MenuConnector:
        return cls(name, settings)

    def change_flow(self, kind: ChangeKind) -> ChangeFlow:
        return ChangeFlow.BACKEND_OTP if kind is self._otp_kind else ChangeFlow.DIRECT

    async def sign_in(self, username: str, password: str) -> AuthResult:
        key = "email" if "@" in username else "phone_number"
        response = await self.transport.request(
            "POST",
            LOGIN.path(),
            json={key: username, "password": password},
            accept=(400, 401, 404, 422),
        )
        if response.status != 200:
            raise InvalidCredentialsError(field=("password",), backend=self.name)
        return self._auth_result(response)

    async def refresh_token(self, refresh_token: str) -> AuthResult:
        # A GET that issues a new token and revokes the old one: never retried.
        try:
            headers = _bearer(refresh_token)
        except AuthenticationError:
            raise InvalidTokenError(field=("refreshToken",), backend=self.name) from None
        response = await self.transport.request(
            "GET", REFRESH.path(), headers=headers, accept=(400, 401, 403)
        )
        if response.status != 200:
            raise InvalidTokenError(field=("refreshToken",), backend=self.name)
        return self._auth_result(response)

    async def current_customer(self, access_token: str) -> Customer:
        response = await self.transport.request(
            "GET", ME.path(), headers=_bearer(access_token), idempotent=True
        )
        return self._customer(response)

    async def update_customer(
        self, native_id: str, update: CustomerUpdate, credentials: Credentials
    ) -> Customer:
        body = mapping.update_body(update, birthday_demographic_id=self._demographic)
        return await self._put_account(native_id, body, credentials)

    async def change_credential(
        self, native_id: str, kind: ChangeKind, value: str, credentials: Credentials
    ) -> Customer:
        return await self._put_account(native_id, mapping.credential_body(kind, value), credentials)

    async def confirm_change(
        self, native_id: str, kind: ChangeKind, code: str, credentials: Credentials
    ) -> Customer:
        response = await self.transport.request(
            "PUT",
            VERIFY[kind].path(id=native_id),
            headers=self._customer_headers(credentials),
            json={"confirmation_code": code},
            accept=(400, 422),
        )
        if response.status != 200:
            raise OtpError("OTP_INVALID", backend=self.name)
        return self._customer(response)

    async def _put_account(
        self, native_id: str, body: dict[str, Any], credentials: Credentials
    ) -> Customer:
        response = await self.transport.request(
            "PUT",
            ACCOUNT.path(id=native_id),
            headers=self._customer_headers(credentials),
            json=body,
            accept=(400, 422),
        )
        if response.status != 200:
            raise ValidationError(
                mapping.field_problems(response.json_or_none()), backend=self.name
            )
        return self._customer(response)

    def _customer_headers(self, credentials: Credentials) -> dict[str, str]:
        if not isinstance(credentials, CustomerCredentials):
            raise UnsupportedError("Menu has no service account.", backend=self.name)
        return _bearer(credentials.access_token)

    def _customer(self, response: UpstreamResponse) -> Customer:
        def build() -> Customer:
            account = mapping.account_from_envelope(response.json())
            count_drift(
                self.name,
                "customer_account",
                account,
                mapping.ACCOUNT_FIELDS,
                mapping.ACCOUNT_EXPECTED,
            )
            return mapping.customer_from_account(
                self.name, account, birthday_demographic_id=self._demographic
            )

        return mapped(self.name, build)

    def _auth_result(self, response: UpstreamResponse) -> AuthResult:
        return mapped(
            self.name,
            lambda: mapping.auth_result_from_envelope(
                self.name, response.json(), self._now(), birthday_demographic_id=self._demographic
            ),
        )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_header(token)}"}
