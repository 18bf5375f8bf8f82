"""A faithful emulator of the Open Loyalty 4.x API (store-code paths), for the demo and tests.

What it reproduces, because a connector that ignored it would break against real Open Loyalty:
- RS256 JWTs with `id`/`roles` claims, Lexik's 401 bodies, gesdinet refresh tokens (the same
  string comes back, its validity extended); admin login and refresh are not store-scoped;
- form-encoded `customer[field]` updates (omitted unchanged, empty erased, address whole) that
  answer only `{customerId}`, and Symfony error trees listing every child;
- a customer's own phone change waiting for an SMS code (`confirm-change`, 204);
- status with `"15.00%"` strings, per-tier-mode keys and no nulls; error bodies that differ by
  layer (JWT, framework, form).
Data views live in model.py, the form in forms.py, customers in store.py, tokens in auth.py and
seed data in seed.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from customer_gateway.sandbox.clock import Clock
from customer_gateway.sandbox.emulator import Emulator
from customer_gateway.sandbox.open_loyalty.auth import (
    OpenLoyaltyError,
    RefreshTokens,
    TokenSigner,
    admin_claims,
    bearer_token,
    customer_claims,
)
from customer_gateway.sandbox.open_loyalty.forms import (
    PartialCompanyError,
    request_params,
    submit_customer_form,
)
from customer_gateway.sandbox.open_loyalty.model import (
    LoyaltyCustomer,
    TierAssignType,
    customer_view,
    level_admin_view,
    level_customer_view,
    status_view,
)
from customer_gateway.sandbox.open_loyalty.seed import (
    DEMO_ADMIN_PASSWORD,
    DEMO_ADMIN_USERNAME,
    DEMO_CUSTOMERS,
    DEMO_STORE_CODE,
    LEVELS,
    level_by_id,
)
from customer_gateway.sandbox.open_loyalty.store import CustomerStore, level_page
from customer_gateway.sandbox.outbox import OutboxMessage

__all__ = ["OpenLoyaltySandbox"]

ADMIN_ID = "22200000-0000-474c-b092-b0dd880c07e2"
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class _Caller:
    """Who a valid JWT belongs to."""

    id: str
    admin: bool


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


class OpenLoyaltySandbox(Emulator):
    """One Open Loyalty store: its customers, levels, tokens, journal, outbox and fault plan."""

    def __init__(
        self,
        *,
        store_code: str = DEMO_STORE_CODE,
        admin_username: str = DEMO_ADMIN_USERNAME,
        admin_password: str = DEMO_ADMIN_PASSWORD,
        clock: Clock | None = None,
        seed: bool = True,
        token_ttl_s: int = 86400,
        tier_assign_type: TierAssignType = "points",
    ) -> None:
        self.store_code = store_code
        self.admin_username = admin_username
        self.admin_password = admin_password
        super().__init__(clock)
        self.token_ttl_s = token_ttl_s
        self.tier_assign_type: TierAssignType = tier_assign_type
        self.signer = TokenSigner(self.clock, token_ttl_s)
        self.refresh_tokens = RefreshTokens(self.clock)
        self.store = CustomerStore(self.clock, tier_assign_type)
        self._customers = self.store.customers
        self._admin_last_login: float | None = None
        if seed:
            self.store.seed(DEMO_CUSTOMERS)
        self.serve(self._routes())

    # --- helpers for tests and the demo ------------------------------------------------

    def add_customer(self, **fields: Any) -> dict[str, Any]:
        """Store a customer directly (see CustomerStore.add); answers its detail view."""
        return self.customer(self.store.add(**fields).customer_id)

    def customer(self, customer_id: str) -> dict[str, Any]:
        """The customer as `GET /api/{storeCode}/customer/<id>` would show it now."""
        return customer_view(self._customers[customer_id], self.tier_assign_type)

    def levels(self) -> list[dict[str, Any]]:
        return [level_admin_view(level) for level in LEVELS]

    def issue_customer_token(self, customer_id: str) -> str:
        return self.signer.sign(customer_claims(self._customers[customer_id]))

    def issue_admin_token(self) -> str:
        return self.signer.sign(self._admin_claims())

    # --- tokens and callers ------------------------------------------------------------

    def _admin_claims(self) -> dict[str, Any]:
        return admin_claims(self.admin_username, ADMIN_ID, self._admin_last_login)

    def _caller(self, request: Request) -> _Caller:
        claims = self.signer.verify(bearer_token(request.headers.get("authorization", "")))
        roles = claims.get("roles")
        return _Caller(str(claims.get("id", "")), isinstance(roles, list) and "ROLE_ADMIN" in roles)

    def _admin(self, request: Request) -> _Caller:
        caller = self._caller(request)
        if not caller.admin:
            raise OpenLoyaltyError.framework(403, "Forbidden")
        return caller

    def _access(self, request: Request) -> tuple[LoyaltyCustomer, _Caller]:
        """The path's customer for an admin, or for that customer itself (VIEW/EDIT voters)."""
        caller = self._caller(request)
        customer = self.store.get(request.path_params["customer"])
        if not caller.admin and caller.id != customer.customer_id:
            raise OpenLoyaltyError.framework(403, "Forbidden")
        return customer, caller

    # --- routing -----------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        sc = "/api/{sc}"
        table: list[tuple[str, Handler, list[str]]] = [
            ("/api/admin/login_check", self._admin_login, ["POST"]),
            ("/api/token/refresh", self._refresh, ["POST"]),
            ("/api/token/revoke", self._revoke, ["GET"]),
            (f"{sc}/customer/login_check", self._customer_login, ["POST"]),
            (f"{sc}/customer/level", self._customer_levels, ["GET"]),
            (f"{sc}/customer/check", self._check, ["GET"]),
            (f"{sc}/customer/register", self._register, ["POST"]),
            (f"{sc}/admin/customer/register", self._register, ["POST"]),
            (f"{sc}/customer/confirm-change/{{code}}", self._confirm_change, ["POST"]),
            (f"{sc}/customer", self._list, ["GET"]),
            (f"{sc}/admin/customer", self._list, ["GET"]),
            (f"{sc}/customer/{{customer}}", self._get_customer, ["GET"]),
            (f"{sc}/customer/{{customer}}", self._put_customer, ["PUT"]),
            (f"{sc}/admin/customer/{{customer}}/status", self._status, ["GET"]),
            (f"{sc}/customer/customer/{{customer}}/status", self._status, ["GET"]),
            (f"{sc}/seller/customer/{{customer}}/status", self._status, ["GET"]),
            (f"{sc}/admin/customer/{{customer}}/activate", self._activate, ["POST"]),
            (f"{sc}/admin/customer/{{customer}}/deactivate", self._activate, ["POST"]),
            (f"{sc}/customer/{{customer}}/level", self._assign_level, ["POST"]),
            (f"{sc}/customer/{{customer}}/remove-manually-level", self._remove_level, ["POST"]),
            (f"{sc}/level", self._levels, ["GET"]),
            (f"{sc}/level/{{level}}", self._level, ["GET"]),
        ]
        routes = [Route(path, self._guard(handler), methods=m) for path, handler, m in table]

        async def fallback(request: Request) -> Response:
            """Symfony's answer for an unknown path (404) or a known one with another method."""
            if any(route.matches(request.scope)[0] is Match.PARTIAL for route in routes):
                return JSONResponse({"error": {"code": 405, "message": "Method Not Allowed"}}, 405)
            return JSONResponse({"error": {"code": 404, "message": "Not Found"}}, 404)

        return [*routes, Route("/api/{rest:path}", fallback, methods=_METHODS)]

    def _guard(self, handler: Handler) -> Handler:
        """Unknown store codes are 404s; OpenLoyaltyError becomes its vendor body."""

        async def run(request: Request) -> Response:
            try:
                if request.path_params.get("sc", self.store_code) != self.store_code:
                    raise OpenLoyaltyError.framework(404, "Not Found")
                return await handler(request)
            except OpenLoyaltyError as error:
                return JSONResponse(error.body, status_code=error.status)
            except PartialCompanyError:
                return JSONResponse(
                    {"error": {"code": 500, "message": "Internal Server Error"}}, 500
                )

        return run

    # --- authentication ----------------------------------------------------------------

    async def _admin_login(self, request: Request) -> Response:
        params = await request_params(request)
        username, password = str(params.get("_username", "")), str(params.get("_password", ""))
        if not (_same(username, self.admin_username) and _same(password, self.admin_password)):
            raise OpenLoyaltyError.bad_credentials()
        self._admin_last_login = self.clock.now()
        token = self.signer.sign(self._admin_claims())
        return JSONResponse({"token": token, "refresh_token": self.refresh_tokens.issue(ADMIN_ID)})

    async def _customer_login(self, request: Request) -> Response:
        params = await request_params(request)
        customer = self.store.by_login(str(params.get("_username", "")))
        password = str(params.get("_password", ""))
        if customer is None or not customer.active or not _same(password, customer.password):
            raise OpenLoyaltyError.bad_credentials()
        customer.last_login_at = self.clock.now()
        token = self.signer.sign(customer_claims(customer))
        refresh = self.refresh_tokens.issue(customer.customer_id)
        return JSONResponse({"token": token, "refresh_token": refresh})

    async def _refresh(self, request: Request) -> Response:
        token = str((await request_params(request)).get("refresh_token", ""))
        subject = self.refresh_tokens.use(token)
        customer = self._customers.get(subject)
        if subject != ADMIN_ID and (customer is None or not customer.active):
            raise OpenLoyaltyError.refresh_failed()  # the bundle's user checker refuses it
        claims = customer_claims(customer) if customer else self._admin_claims()
        return JSONResponse({"token": self.signer.sign(claims), "refresh_token": token})

    async def _revoke(self, request: Request) -> Response:
        self.refresh_tokens.revoke(self._caller(request).id)
        return JSONResponse([])

    # --- customers ---------------------------------------------------------------------

    async def _list(self, request: Request) -> Response:
        self._admin(request)
        rows, total = self.store.search(request.query_params)
        return JSONResponse({"customers": rows, "total": total})

    async def _check(self, request: Request) -> Response:
        """Anonymous: does a customer with this email or phone exist?"""
        wanted = request.query_params.get("emailOrPhone", "").strip()
        found = wanted and (
            self.store.taken("email", wanted, None) or self.store.taken("phone", wanted, None)
        )
        return JSONResponse({"total": 1 if found else 0})

    async def _get_customer(self, request: Request) -> Response:
        customer, _ = self._access(request)
        return JSONResponse(customer_view(customer, self.tier_assign_type))

    async def _put_customer(self, request: Request) -> Response:
        customer, caller = self._access(request)
        values = (await request_params(request)).get("customer")
        submission = submit_customer_form(
            values,
            register=False,
            admin=caller.admin,
            taken=lambda field, value: self.store.taken(field, value, customer),
        )
        if submission.errors is not None:
            return JSONResponse(submission.errors, status_code=400)
        changes = dict(submission.changes)
        phone = changes.get("phone")
        if not caller.admin and phone and phone != customer.get("phone"):
            # The phone is a login credential: it changes only once the SMS code comes back.
            del changes["phone"]
            code = self.store.request_phone_change(customer, phone)
            self.outbox.deliver(OutboxMessage("sms", phone, code, "phone_change", self.clock.now()))
        if changes:
            self.store.apply(customer, changes)
        return JSONResponse({"customerId": customer.customer_id})

    async def _confirm_change(self, request: Request) -> Response:
        caller = self._caller(request)
        customer = self._customers.get(caller.id)
        if customer is None:
            raise OpenLoyaltyError.framework(404, "Not Found")
        self.store.confirm_phone_change(customer, request.path_params["code"])
        return Response(status_code=204)

    async def _register(self, request: Request) -> Response:
        self._admin(request)
        values = (await request_params(request)).get("customer")
        submission = submit_customer_form(
            values,
            register=True,
            admin=True,
            taken=lambda field, value: self.store.taken(field, value, None),
        )
        if submission.errors is not None:
            return JSONResponse(submission.errors, status_code=400)
        customer = self.store.create(submission.changes, password="", has_account=True)
        return JSONResponse({"customerId": customer.customer_id, "email": customer.get("email")})

    async def _status(self, request: Request) -> Response:
        path = request.url.path
        own = "/customer/customer/" in path
        if own:
            customer, _ = self._access(request)
        else:
            # No seller accounts exist in the emulated store, so the admin reads the seller view.
            self._admin(request)
            customer = self.store.get(request.path_params["customer"])
        return JSONResponse(status_view(customer, self.tier_assign_type, own=own))

    async def _activate(self, request: Request) -> Response:
        self._admin(request)
        customer = self.store.get(request.path_params["customer"])
        customer.active = request.url.path.endswith("/activate")
        self.store.touch(customer)
        return Response(status_code=200)  # no content, as documented

    async def _assign_level(self, request: Request) -> Response:
        self._admin(request)
        customer = self.store.get(request.path_params["customer"])
        level_id = str((await request_params(request)).get("levelId", "")).strip()
        if not level_id:
            raise OpenLoyaltyError(400, {"levelId": "field is required"})
        if level_by_id(level_id) is None:
            raise OpenLoyaltyError.framework(404, "Not Found")
        customer.manual_level_id = level_id
        self.store.touch(customer)
        return JSONResponse([])

    async def _remove_level(self, request: Request) -> Response:
        self._admin(request)
        customer = self.store.get(request.path_params["customer"])
        customer.manual_level_id = None
        self.store.touch(customer)
        return Response(status_code=204)

    # --- levels ------------------------------------------------------------------------

    async def _levels(self, request: Request) -> Response:
        self._admin(request)
        return JSONResponse(level_page(request.query_params))

    async def _level(self, request: Request) -> Response:
        self._admin(request)
        level = level_by_id(request.path_params["level"])
        if level is None:
            raise OpenLoyaltyError.framework(404, "Not Found")
        return JSONResponse(level_admin_view(level))

    async def _customer_levels(self, request: Request) -> Response:
        """The customer-facing list: any signed-in caller; no ids, no rewards."""
        self._caller(request)
        levels = sorted(LEVELS, key=lambda level: level.condition_value)
        return JSONResponse(
            {"levels": [level_customer_view(level) for level in levels], "total": len(levels)}
        )
