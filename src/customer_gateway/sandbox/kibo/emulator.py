"""A faithful emulator of Kibo Commerce's customer API (auth tickets, accounts, contacts).

What it reproduces: the application token from the home pod's OAuth endpoint, required on every
tenant call together with `x-vol-tenant`/`x-vol-site`; shopper calls that add the ticket's opaque
`accessToken` in `x-vol-user-claims` (or send the ticket's `jwtAccessToken` alone); refresh by
`PUT …/authtickets/refresh?refreshToken=…` with no body, rotating the refresh token; int32
account ids; phones only on contacts; a PUT that replaces the writable fields but ignores
`isActive` and `contacts`; item-offset paging; ApiError bodies. Kibo has no email or phone
confirmation flow, so there is none here.

This module is the request surface; tokens live in auth.py, accounts in accounts.py, contacts in
contacts.py, and demo data, filters and error bodies in model.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from customer_gateway.sandbox.clock import Clock
from customer_gateway.sandbox.emulator import Emulator
from customer_gateway.sandbox.kibo.accounts import Account, AccountStore
from customer_gateway.sandbox.kibo.auth import KiboAuth
from customer_gateway.sandbox.kibo.contacts import take_primary, update_contact
from customer_gateway.sandbox.kibo.model import (
    DEMO_CUSTOMERS,
    DemoKiboCustomer,
    KiboError,
    invalid_parameter,
    iso,
    page,
)

__all__ = ["KiboSandbox"]

Handler = Callable[[Request], Awaitable[Response]]


class KiboSandbox(Emulator):
    """One Kibo tenant and site: its accounts, tokens, journal and fault plan."""

    def __init__(self, *, clock: Clock | None = None, seed: bool = True) -> None:
        super().__init__(clock)
        self.auth = KiboAuth(self.clock)
        self.accounts = AccountStore(self.clock)
        self._accounts = self.accounts.records
        self.serve(self._routes(), DEMO_CUSTOMERS if seed else ())

    # --- helpers for tests and the demo ------------------------------------------------

    def add_customer(self, **fields: Any) -> dict[str, Any]:
        """See AccountStore.add."""
        return self.accounts.add(DemoKiboCustomer(**fields)).view()

    def account(self, account_id: int) -> dict[str, Any]:
        return self._accounts[account_id].view()

    def login(self, email: str, password: str) -> dict[str, Any]:
        account = self.accounts.by_user_name(email)
        if account is None or not secrets.compare_digest(account.password, password):
            raise ValueError("bad credentials")
        return self.auth.issue_ticket(account)

    def issue_app_token(self) -> str:
        return self.auth.issue_app_token()

    # --- request plumbing --------------------------------------------------------------

    def _account_for(self, request: Request) -> Account:
        """The path's account, for a service caller or for that account's own shopper."""
        raw = request.path_params["account_id"]
        if not raw.isdigit() or int(raw) > 2**31 - 1:
            raise invalid_parameter("accountId")
        account = self._accounts.get(int(raw))
        shopper = self.auth.shopper(request.headers)
        if account is None:
            raise KiboError(404, "ITEM_NOT_FOUND", f"Customer account {raw} not found.")
        if shopper is not None and shopper.account_id != account.data["id"]:
            raise KiboError(403, "FORBIDDEN", "Not authorized to access this account.")
        return account

    def _service_only(self, request: Request, refusal: str) -> None:
        if self.auth.shopper(request.headers) is not None:
            raise KiboError(403, "FORBIDDEN", refusal)

    @staticmethod
    async def _json(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise KiboError(
                400, "MISSING_OR_INVALID_PARAMETER", "The request body is not valid JSON."
            ) from None

    def _routes(self) -> list[Route]:
        def endpoint(handler: Handler, *, tenant: bool = True, site: bool = True) -> Handler:
            async def run(request: Request) -> Response:
                try:
                    if tenant:
                        self.auth.check_app(request.headers, site_required=site)
                    return await handler(request)
                except KiboError as error:
                    return JSONResponse(error.body(), status_code=error.status)

            return run

        accounts = "/api/commerce/customer/accounts"
        return [
            Route(
                "/api/platform/applications/authtickets/oauth",
                endpoint(self._oauth, tenant=False),
                methods=["POST"],
            ),
            Route("/api/commerce/customer/authtickets", endpoint(self._sign_in), methods=["POST"]),
            Route(
                "/api/commerce/customer/authtickets/refresh",
                endpoint(self._refresh_ticket),
                methods=["PUT"],
            ),
            Route(f"{accounts}/current", endpoint(self._current), methods=["GET"]),
            Route(accounts, endpoint(self._list, site=False), methods=["GET"]),
            Route(
                f"{accounts}/{{account_id}}", endpoint(self._account_route), methods=["GET", "PUT"]
            ),
            Route(
                f"{accounts}/{{account_id}}/contacts",
                endpoint(self._contacts),
                methods=["GET", "POST"],
            ),
            Route(
                f"{accounts}/{{account_id}}/contacts/{{contact_id}}",
                endpoint(self._contact),
                methods=["GET", "PUT"],
            ),
            Route(f"{accounts}/{{account_id}}/action", endpoint(self._action), methods=["POST"]),
        ]

    # --- auth endpoints ----------------------------------------------------------------

    async def _oauth(self, request: Request) -> Response:
        return JSONResponse(self.auth.oauth(await self._json(request)))

    async def _sign_in(self, request: Request) -> Response:
        body = await self._json(request)
        account = (
            self.accounts.by_user_name(str(body.get("username", "")))
            if isinstance(body, dict)
            else None
        )
        password = str(body.get("password", "")) if isinstance(body, dict) else ""
        if (
            account is None
            or not account.data["isActive"]
            or not secrets.compare_digest(account.password, password)
        ):
            raise KiboError(401, "INVALID_CREDENTIALS", "Invalid username or password.")
        return JSONResponse(self.auth.issue_ticket(account))

    async def _refresh_ticket(self, request: Request) -> Response:
        if await request.body():
            raise KiboError(400, "MISSING_OR_INVALID_PARAMETER", "The refresh takes no body.")
        ticket = self.auth.refresh(request.query_params.get("refreshToken", ""))
        return JSONResponse(self.auth.issue_ticket(self._accounts[ticket.account_id]))  # rotates

    # --- accounts ----------------------------------------------------------------------

    async def _current(self, request: Request) -> Response:
        ticket = self.auth.current(request.headers)
        return JSONResponse(self._accounts[ticket.account_id].view())

    async def _account_route(self, request: Request) -> Response:
        account = self._account_for(request)
        if request.method == "GET":
            return JSONResponse(account.view())
        self.accounts.replace(account, await self._json(request))
        return JSONResponse(account.view())

    async def _list(self, request: Request) -> Response:
        self._service_only(request, "Shoppers cannot list accounts.")
        return JSONResponse(self.accounts.search(request.query_params))

    async def _action(self, request: Request) -> Response:
        self._service_only(request, "Shoppers cannot change account state.")
        account = self._account_for(request)
        action = (await self._json(request) or {}).get("actionName")
        if action not in ("DisableAccount", "EnableAccount"):
            raise invalid_parameter("actionName")
        account.data["isActive"] = action == "EnableAccount"
        return Response(status_code=200)

    # --- contacts ----------------------------------------------------------------------

    async def _contacts(self, request: Request) -> Response:
        account = self._account_for(request)
        if request.method == "GET":
            return JSONResponse(
                page([dict(c) for c in account.contacts], 0, max(1, len(account.contacts)))
            )
        body = await self._json(request)
        if not isinstance(body, dict):
            raise invalid_parameter("contact")
        take_primary(account.contacts, body)
        return JSONResponse(self.accounts.add_contact(account, body))

    async def _contact(self, request: Request) -> Response:
        account = self._account_for(request)
        contact_id = request.path_params["contact_id"]
        contact = next((c for c in account.contacts if str(c["id"]) == contact_id), None)
        if contact is None:
            raise KiboError(404, "ITEM_NOT_FOUND", f"Contact {contact_id} not found.")
        if request.method == "PUT":
            body = await self._json(request)
            if not isinstance(body, dict):
                raise invalid_parameter("contact")
            update_contact(contact, body, iso(self.clock.now()))
            self.accounts.touch(account)
        return JSONResponse(dict(contact))
