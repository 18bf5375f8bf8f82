"""A faithful emulator of Kibo Commerce's customer API (auth tickets, accounts, contacts).

What it reproduces: the application token from the home pod's OAuth endpoint, required on every
tenant call together with `x-vol-tenant`/`x-vol-site`; shopper calls that add the ticket's opaque
`accessToken` in `x-vol-user-claims` (or send the ticket's `jwtAccessToken` alone); refresh by
`PUT …/authtickets/refresh?refreshToken=…` with no body, rotating the refresh token; int32
account ids; phones only on contacts; a PUT that replaces the writable fields but ignores
`isActive` and `contacts`; item-offset paging; ApiError bodies. Kibo has no email or phone
confirmation flow, so there is none here.

This module is long because it holds the whole request surface; data, filters and error bodies
are in kibo_model.py.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from customer_gateway.sandbox.common import (
    Clock,
    jwt_decode_hs256,
    jwt_encode_hs256,
)
from customer_gateway.sandbox.emulator import Emulator
from customer_gateway.sandbox.kibo_model import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_CUSTOMERS,
    DEMO_SITE,
    DEMO_TENANT,
    DemoKiboCustomer,
    KiboError,
    KiboFilterError,
    iso,
    matches_filter,
    new_user_id,
    page,
)

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_CUSTOMERS",
    "DEMO_SITE",
    "DEMO_TENANT",
    "DemoKiboCustomer",
    "KiboSandbox",
]

_WRITABLE = (
    "firstName",
    "lastName",
    "emailAddress",
    "userName",
    "localeCode",
    "acceptsMarketing",
    "companyOrOrganization",
    "taxExempt",
    "taxId",
    "externalId",
    "attributes",
    "notes",
    "segments",
    "customerSet",
    "accountType",
)


@dataclass
class _Ticket:
    account_id: int
    access_expires: float
    refresh_token: str
    refresh_expires: float


@dataclass
class _Account:
    data: dict[str, Any]
    password: str
    contacts: list[dict[str, Any]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {**self.data, "contacts": [dict(c) for c in self.contacts]}


class KiboSandbox(Emulator):
    def __init__(
        self,
        *,
        tenant: int = DEMO_TENANT,
        site: int = DEMO_SITE,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        clock: Clock | None = None,
        seed: bool = True,
        app_token_ttl_s: int = 3600,
        access_ttl_s: int = 900,
        refresh_ttl_s: int = 86400,
    ) -> None:
        self.tenant, self.site = tenant, site
        self.client_id, self.client_secret = client_id, client_secret
        super().__init__(clock)
        self.app_token_ttl_s = app_token_ttl_s
        self.access_ttl_s, self.refresh_ttl_s = access_ttl_s, refresh_ttl_s
        self._secret = secrets.token_bytes(32)
        self._app_tokens: dict[str, float] = {}
        self._app_refresh: set[str] = set()
        self._tickets: dict[str, _Ticket] = {}  # opaque accessToken -> ticket
        self._refresh: dict[str, str] = {}  # refresh token -> access token
        self._accounts: dict[int, _Account] = {}
        self._next_id, self._next_contact = 1001, 1401
        if seed:
            for demo in DEMO_CUSTOMERS:
                self.add_customer(
                    email=demo.email,
                    password=demo.password,
                    first_name=demo.first_name,
                    last_name=demo.last_name,
                    phone=demo.phone,
                )
        self.app = self.build_app(self._routes())

    # --- helpers for tests and the demo ------------------------------------------------

    def add_customer(
        self,
        *,
        email: str,
        password: str,
        first_name: str = "",
        last_name: str = "",
        phone: str | None = None,
        is_active: bool = True,
    ) -> dict[str, Any]:
        now = iso(self.clock.now())
        account_id = self._next_id
        self._next_id += 1
        account = _Account(
            data={
                "id": account_id,
                "userId": new_user_id(),
                "userName": email,
                "emailAddress": email,
                "firstName": first_name,
                "lastName": last_name,
                "localeCode": "en-US",
                "acceptsMarketing": False,
                "isActive": is_active,
                "isLocked": False,
                "isAnonymous": False,
                "hasExternalPassword": False,
                "companyOrOrganization": None,
                "taxExempt": False,
                "taxId": None,
                "externalId": None,
                "customerSet": "default",
                "accountType": "B2C",
                "customerSinceDate": now,
                "attributes": [],
                "notes": [],
                "segments": [],
                "commerceSummary": {
                    "totalOrderAmount": {"amount": 0, "currencyCode": "USD"},
                    "orderCount": 0,
                    "lastOrderDate": None,
                    "wishlistCount": 0,
                    "visitsCount": 0,
                },
                "auditInfo": {
                    "createDate": now,
                    "createBy": "sandbox",
                    "updateDate": now,
                    "updateBy": "sandbox",
                },
                "migrationRequired": False,
            },
            password=password,
        )
        self._accounts[account_id] = account
        if phone:
            self._add_contact(
                account,
                {
                    "phoneNumbers": {"home": None, "mobile": phone, "work": None},
                    "types": [{"name": "Billing", "isPrimary": True}],
                },
            )
        return account.view()

    def account(self, account_id: int) -> dict[str, Any]:
        return self._accounts[account_id].view()

    def login(self, email: str, password: str) -> dict[str, Any]:
        account = self._by_user_name(email)
        if account is None or not secrets.compare_digest(account.password, password):
            raise ValueError("bad credentials")
        return self._issue_ticket(account)

    def issue_app_token(self) -> str:
        token = base64.b64encode(secrets.token_bytes(48)).decode()
        self._app_tokens[token] = self.clock.now() + self.app_token_ttl_s
        return token

    # --- plumbing ----------------------------------------------------------------------

    def _add_contact(self, account: _Account, body: dict[str, Any]) -> dict[str, Any]:
        now = iso(self.clock.now())
        contact = {
            "accountId": account.data["id"],
            "types": [{"name": "Billing", "isPrimary": False}],
            "id": self._next_contact,
            "email": account.data["emailAddress"],
            "firstName": account.data["firstName"],
            "middleNameOrInitial": None,
            "lastNameOrSurname": account.data["lastName"],
            "companyOrOrganization": None,
            "faxNumber": None,
            "label": None,
            "phoneNumbers": {"home": None, "mobile": None, "work": None},
            "address": None,
            "auditInfo": {
                "createDate": now,
                "createBy": "sandbox",
                "updateDate": now,
                "updateBy": "sandbox",
            },
        }
        self._next_contact += 1
        contact.update({k: v for k, v in body.items() if k not in ("id", "accountId", "auditInfo")})
        account.contacts.append(contact)
        return contact

    def _by_user_name(self, name: str) -> _Account | None:
        wanted = name.casefold()
        return next(
            (a for a in self._accounts.values() if a.data["userName"].casefold() == wanted), None
        )

    def _issue_ticket(self, account: _Account) -> dict[str, Any]:
        now = self.clock.now()
        access = base64.b64encode(secrets.token_bytes(336)).decode()  # opaque, ~450 chars
        refresh = secrets.token_hex(16)
        self._tickets[access] = _Ticket(
            account.data["id"], now + self.access_ttl_s, refresh, now + self.refresh_ttl_s
        )
        self._refresh[refresh] = access
        user_claims = {
            "uid": account.data["userId"],
            "anon": "0",
            "st": "Shopper",
            "b.AccountId": str(account.data["id"]),
            "b.SiteId": str(self.site),
            "b.TenantId": str(self.tenant),
            "b.UserFirstName": account.data["firstName"],
            "b.UserLastName": account.data["lastName"],
            "exp": iso(now + self.access_ttl_s),
        }
        jwt = jwt_encode_hs256(
            {
                "https://www.kibocommerce.com/app_claims": {
                    "aid": "sandbox",
                    "akey": self.client_id,
                    "env": "sandbox",
                    "exp": iso(now + self.app_token_ttl_s),
                },
                "https://www.kibocommerce.com/user_claims": user_claims,
                "unique_name": account.data["userId"],
                "sub": account.data["userId"],
                "sid": secrets.token_hex(16),
                "nbf": int(now),
                "exp": int(now + self.access_ttl_s),
                "iat": int(now),
                "iss": "https://www.kibocommerce.com",
                "aud": "https://www.kibocommerce.com",
                "x-access": access,
            },
            self._secret,
        )
        return {
            "accessToken": access,
            "accessTokenExpiration": iso(now + self.access_ttl_s),
            "refreshToken": refresh,
            "refreshTokenExpiration": iso(now + self.refresh_ttl_s),
            "userId": account.data["userId"],
            "jwtAccessToken": jwt,
            "customerAccount": account.view(),
            "requires2FA": False,
        }

    def _app(self, request: Request, *, site_required: bool) -> None:
        """The app token and the tenant/site context every tenant call must carry."""
        headers = request.headers
        scheme, _, token = headers.get("authorization", "").partition(" ")
        token = token.strip()
        expires = self._app_tokens.get(token) if scheme.lower() == "bearer" else None
        if expires is None and scheme.lower() == "bearer" and self._jwt_ticket(token) is not None:
            expires = self.clock.now() + 1  # a ticket's jwtAccessToken carries the app claims too
        if expires is None or expires <= self.clock.now():
            raise KiboError(401, "UNAUTHORIZED", "Missing or invalid authorization.")
        if headers.get("x-vol-tenant") is None:
            raise KiboError(
                400,
                "MISSING_OR_INVALID_PARAMETER",
                "Missing or invalid parameter: tenant",
                "x-vol-tenant",
            )
        if headers.get("x-vol-tenant") != str(self.tenant):
            raise KiboError(403, "FORBIDDEN", "Token not authorized for this tenant.")
        if site_required and headers.get("x-vol-site") != str(self.site):
            raise KiboError(
                400,
                "MISSING_OR_INVALID_PARAMETER",
                "Missing or invalid parameter: site",
                "x-vol-site",
            )

    def _jwt_ticket(self, token: str) -> _Ticket | None:
        claims = jwt_decode_hs256(token, self._secret)
        return self._tickets.get(str(claims.get("x-access"))) if claims else None

    def _shopper(self, request: Request) -> _Ticket | None:
        """The shopper's ticket, or None for a service caller (app token, no user claims)."""
        claims = request.headers.get("x-vol-user-claims")
        _, _, bearer = request.headers.get("authorization", "").partition(" ")
        ticket = self._tickets.get(claims) if claims else self._jwt_ticket(bearer.strip())
        if claims is None and ticket is None:
            return None
        if ticket is None or ticket.access_expires <= self.clock.now():
            raise KiboError(401, "UNAUTHORIZED", "The user claims are missing, invalid or expired.")
        return ticket

    def _account_for(self, request: Request) -> _Account:
        raw = request.path_params["account_id"]
        if not raw.isdigit() or int(raw) > 2**31 - 1:
            raise KiboError(
                400,
                "MISSING_OR_INVALID_PARAMETER",
                "Missing or invalid parameter: accountId",
                "accountId",
            )
        account = self._accounts.get(int(raw))
        shopper = self._shopper(request)
        if account is None:
            raise KiboError(404, "ITEM_NOT_FOUND", f"Customer account {raw} not found.")
        if shopper is not None and shopper.account_id != account.data["id"]:
            raise KiboError(403, "FORBIDDEN", "Not authorized to access this account.")
        return account

    async def _json(self, request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise KiboError(
                400, "MISSING_OR_INVALID_PARAMETER", "The request body is not valid JSON."
            ) from None

    def _routes(self) -> list[Route]:
        def endpoint(
            handler: Callable[[Request], Awaitable[Response]],
            *,
            tenant: bool = True,
            site: bool = True,
        ) -> Any:
            async def run(request: Request) -> Response:
                try:
                    if tenant:
                        self._app(request, site_required=site)
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
        body = await self._json(request)
        grant = body.get("grant_type") if isinstance(body, dict) else None
        if grant == "refresh_token" and body.get("refresh_token") in self._app_refresh:
            self._app_refresh.discard(body["refresh_token"])
        elif not (
            grant == "client_credentials"
            and secrets.compare_digest(str(body.get("client_id", "")), self.client_id)
            and secrets.compare_digest(str(body.get("client_secret", "")), self.client_secret)
        ):
            raise KiboError(401, "UNAUTHORIZED", "Invalid application credentials.")
        refresh = secrets.token_hex(16)
        self._app_refresh.add(refresh)
        return JSONResponse(
            {
                "access_token": self.issue_app_token(),
                "token_type": "Bearer",
                "expires_in": self.app_token_ttl_s,
                "refresh_token": refresh,
            }
        )

    async def _sign_in(self, request: Request) -> Response:
        body = await self._json(request)
        account = (
            self._by_user_name(str(body.get("username", ""))) if isinstance(body, dict) else None
        )
        password = str(body.get("password", "")) if isinstance(body, dict) else ""
        if (
            account is None
            or not account.data["isActive"]
            or not secrets.compare_digest(account.password, password)
        ):
            raise KiboError(401, "INVALID_CREDENTIALS", "Invalid username or password.")
        return JSONResponse(self._issue_ticket(account))

    async def _refresh_ticket(self, request: Request) -> Response:
        if await request.body():
            raise KiboError(400, "MISSING_OR_INVALID_PARAMETER", "The refresh takes no body.")
        refresh = request.query_params.get("refreshToken", "")
        access = self._refresh.pop(refresh, None)
        ticket = self._tickets.pop(access, None) if access else None
        if ticket is None or ticket.refresh_expires <= self.clock.now():
            raise KiboError(401, "UNAUTHORIZED", "The refresh token is invalid or expired.")
        return JSONResponse(self._issue_ticket(self._accounts[ticket.account_id]))  # rotates

    # --- accounts ----------------------------------------------------------------------

    async def _current(self, request: Request) -> Response:
        ticket = self._shopper(request)
        if ticket is None:
            raise KiboError(401, "UNAUTHORIZED", "The user claims are missing, invalid or expired.")
        return JSONResponse(self._accounts[ticket.account_id].view())

    async def _account_route(self, request: Request) -> Response:
        account = self._account_for(request)
        if request.method == "GET":
            return JSONResponse(account.view())
        body = await self._json(request)
        if not isinstance(body, dict):
            raise KiboError(
                400,
                "MISSING_OR_INVALID_PARAMETER",
                "Missing or invalid parameter: account",
                "account",
            )
        email = str(body.get("emailAddress") or "")
        if "@" not in email or "." not in email.rsplit("@", 1)[-1]:
            raise KiboError(
                400,
                "MISSING_OR_INVALID_PARAMETER",
                "Missing or invalid parameter: emailAddress",
                "emailAddress",
            )
        clash = next(
            (
                a
                for a in self._accounts.values()
                if a is not account
                and (
                    a.data["emailAddress"].casefold() == email.casefold()
                    or a.data["userName"].casefold()
                    == str(body.get("userName") or email).casefold()
                )
            ),
            None,
        )
        if clash is not None:
            raise KiboError(
                409,
                "VALIDATION_CONFLICT",
                "An account with this email or user name already exists.",
            )
        for key in _WRITABLE:  # isActive and contacts are not changed by a PUT
            if key in body:
                account.data[key] = body[key]
        account.data["auditInfo"] = {
            **account.data["auditInfo"],
            "updateDate": iso(self.clock.now()),
        }
        return JSONResponse(account.view())

    async def _list(self, request: Request) -> Response:
        if self._shopper(request) is not None:
            raise KiboError(403, "FORBIDDEN", "Shoppers cannot list accounts.")
        query = request.query_params
        try:
            start, size = int(query.get("startIndex", "0")), int(query.get("pageSize", "20"))
        except ValueError:
            raise KiboError(
                400,
                "MISSING_OR_INVALID_PARAMETER",
                "Missing or invalid parameter: pageSize",
                "pageSize",
            ) from None
        if not (start >= 0 and 1 <= size <= 200):
            raise KiboError(
                400,
                "MISSING_OR_INVALID_PARAMETER",
                "Missing or invalid parameter: pageSize",
                "pageSize",
            )
        rows = [a.view() for a in self._accounts.values()]
        expression = query.get("filter")
        if expression:
            try:
                rows = [r for r in rows if matches_filter(r, expression)]
            except KiboFilterError:
                raise KiboError(
                    400,
                    "MISSING_OR_INVALID_PARAMETER",
                    "Missing or invalid parameter: filter",
                    "filter",
                ) from None
        sort = (query.get("sortBy") or "id asc").split()
        rows.sort(
            key=lambda r: str(r.get(sort[0]) or "") if sort[0] != "id" else r["id"],
            reverse=len(sort) > 1 and sort[1].lower() == "desc",
        )
        return JSONResponse(page(rows, start, size))

    async def _action(self, request: Request) -> Response:
        if self._shopper(request) is not None:
            raise KiboError(403, "FORBIDDEN", "Shoppers cannot change account state.")
        account = self._account_for(request)
        action = (await self._json(request) or {}).get("actionName")
        if action not in ("DisableAccount", "EnableAccount"):
            raise KiboError(
                400,
                "MISSING_OR_INVALID_PARAMETER",
                "Missing or invalid parameter: actionName",
                "actionName",
            )
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
            raise KiboError(
                400,
                "MISSING_OR_INVALID_PARAMETER",
                "Missing or invalid parameter: contact",
                "contact",
            )
        if any(t.get("isPrimary") for t in body.get("types") or []):
            for contact in account.contacts:
                contact["types"] = [{**t, "isPrimary": False} for t in contact["types"]]
        return JSONResponse(self._add_contact(account, body))

    async def _contact(self, request: Request) -> Response:
        account = self._account_for(request)
        contact_id = request.path_params["contact_id"]
        contact = next((c for c in account.contacts if str(c["id"]) == contact_id), None)
        if contact is None:
            raise KiboError(404, "ITEM_NOT_FOUND", f"Contact {contact_id} not found.")
        if request.method == "PUT":
            body = await self._json(request)
            if not isinstance(body, dict):
                raise KiboError(
                    400,
                    "MISSING_OR_INVALID_PARAMETER",
                    "Missing or invalid parameter: contact",
                    "contact",
                )
            contact.update(
                {k: v for k, v in body.items() if k not in ("id", "accountId", "auditInfo")}
            )
            contact["auditInfo"] = {**contact["auditInfo"], "updateDate": iso(self.clock.now())}
            account.data["auditInfo"] = {
                **account.data["auditInfo"],
                "updateDate": iso(self.clock.now()),
            }
        return JSONResponse(dict(contact))
