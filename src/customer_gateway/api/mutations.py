"""Mutation root: sign-in, token refresh, profile updates and OTP-confirmed credential changes.

Expected outcomes (wrong password, invalid email, wrong code) come back as `userErrors` in the
payload; everything else is a GraphQL error with a documented code.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date
from typing import TypeVar

import strawberry

from customer_gateway import domain
from customer_gateway.api.context import Info
from customer_gateway.api.errors import to_user_errors
from customer_gateway.api.types import (
    AuthPayload,
    ChangeRequestPayload,
    Customer,
    CustomerPayload,
    Token,
    UserError,
)
from customer_gateway.domain import ChangeKind, UserFacingError
from customer_gateway.records import converted

__all__ = ["AddressInput", "Mutation", "UpdateCustomerInput"]

T = TypeVar("T")


@strawberry.input
class AddressInput:
    street: str | None = None
    address2: str | None = None
    city: str | None = None
    postal: str | None = None
    province: str | None = None
    country: str | None = None


@strawberry.input(description="All optional; omitted fields are left alone.")
class UpdateCustomerInput:
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    gender: str | None = None
    birth_date: date | None = None
    address: AddressInput | None = None
    marketing_opt_in: bool | None = None

    def to_domain(self) -> domain.CustomerUpdate:
        address = self.address and converted(domain.Address, self.address)
        return converted(domain.CustomerUpdate, self, address=address)


async def _attempt(
    call: Awaitable[T], *, prefix: tuple[str, ...] = (), renames: dict[str, str] | None = None
) -> tuple[T | None, list[UserError]]:
    try:
        return await call, []
    except UserFacingError as error:
        return None, to_user_errors(error, prefix=prefix, renames=renames)


def _customer_payload(customer: domain.Customer | None, errors: list[UserError]) -> CustomerPayload:
    return CustomerPayload(
        customer=Customer.from_domain(customer) if customer else None, user_errors=errors
    )


def _auth_payload(result: domain.AuthResult | None, errors: list[UserError]) -> AuthPayload:
    if result is None:
        return AuthPayload(user_errors=errors)
    return AuthPayload(
        token=Token.from_domain(result.token),
        customer=Customer.from_domain(result.customer),
        user_errors=errors,
    )


# The argument that carries each credential, for userErrors[].field.
_VALUE_FIELD = {ChangeKind.EMAIL: "email", ChangeKind.PHONE_NUMBER: "phoneNumber"}


async def _request_change(
    info: Info, id: str, kind: ChangeKind, value: str
) -> ChangeRequestPayload:
    changes = info.context.services.changes
    result, errors = await _attempt(
        changes.request(id, kind, value, info.context.caller),
        renames={"email": _VALUE_FIELD[kind], "phone_number": _VALUE_FIELD[kind]},
    )
    if result is None:
        return ChangeRequestPayload(user_errors=errors)
    return ChangeRequestPayload(
        pending=result.pending,
        expires_at=result.expires_at,
        customer=Customer.from_domain(result.customer),
    )


async def _confirm_change(info: Info, id: str, kind: ChangeKind, code: str) -> CustomerPayload:
    changes = info.context.services.changes
    customer, errors = await _attempt(changes.confirm(id, kind, code, info.context.caller))
    return _customer_payload(customer, errors)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Sign in with the backend's own credentials.")
    async def sign_in(self, info: Info, backend: str, username: str, password: str) -> AuthPayload:
        customers = info.context.services.customers
        result, errors = await _attempt(customers.sign_in(backend, username, password))
        return _auth_payload(result, errors)

    @strawberry.mutation(
        description="New tokens from a refresh token (Menu: from the current access token)."
    )
    async def refresh_token(
        self, info: Info, backend: str, refresh_token: str | None = None
    ) -> AuthPayload:
        customers = info.context.services.customers
        result, errors = await _attempt(
            customers.refresh(backend, refresh_token, info.context.caller)
        )
        return _auth_payload(result, errors)

    @strawberry.mutation(description="Change profile fields; email and phone have their own flow.")
    async def update_customer(
        self, info: Info, id: strawberry.ID, input: UpdateCustomerInput
    ) -> CustomerPayload:
        customers = info.context.services.customers
        customer, errors = await _attempt(
            customers.update(str(id), input.to_domain(), info.context.caller), prefix=("input",)
        )
        return _customer_payload(customer, errors)

    @strawberry.mutation(description="Start an email change; usually confirmed with a code.")
    async def request_email_change(
        self, info: Info, id: strawberry.ID, email: str
    ) -> ChangeRequestPayload:
        return await _request_change(info, str(id), ChangeKind.EMAIL, email)

    @strawberry.mutation(
        description="Finish an email change with the code sent to the new address."
    )
    async def confirm_email_change(
        self, info: Info, id: strawberry.ID, code: str
    ) -> CustomerPayload:
        return await _confirm_change(info, str(id), ChangeKind.EMAIL, code)

    @strawberry.mutation(description="Start a phone number change; usually confirmed by SMS code.")
    async def request_phone_number_change(
        self, info: Info, id: strawberry.ID, phone_number: str
    ) -> ChangeRequestPayload:
        return await _request_change(info, str(id), ChangeKind.PHONE_NUMBER, phone_number)

    @strawberry.mutation(description="Finish a phone number change with the code sent by SMS.")
    async def confirm_phone_number_change(
        self, info: Info, id: strawberry.ID, code: str
    ) -> CustomerPayload:
        return await _confirm_change(info, str(id), ChangeKind.PHONE_NUMBER, code)

    @strawberry.mutation(description="Admin key required.")
    async def activate_customer(self, info: Info, id: strawberry.ID) -> CustomerPayload:
        customers = info.context.services.customers
        customer, errors = await _attempt(customers.set_active(str(id), True, info.context.caller))
        return _customer_payload(customer, errors)

    @strawberry.mutation(description="Admin key required.")
    async def deactivate_customer(self, info: Info, id: strawberry.ID) -> CustomerPayload:
        customers = info.context.services.customers
        customer, errors = await _attempt(customers.set_active(str(id), False, info.context.caller))
        return _customer_payload(customer, errors)

    @strawberry.mutation(description="Admin key required.")
    async def assign_level(
        self, info: Info, id: strawberry.ID, level_id: strawberry.ID
    ) -> CustomerPayload:
        customers = info.context.services.customers
        customer, errors = await _attempt(
            customers.assign_level(str(id), str(level_id), info.context.caller)
        )
        return _customer_payload(customer, errors)
