"""A faithful emulator of the Open Loyalty 4.x API (store-code paths), for the demo and tests.

What it reproduces: RS256 JWTs with `id`/`roles` claims and Lexik's 401 bodies; gesdinet refresh
tokens (the same string, validity extended); form-encoded `customer[field]` updates where an
omitted field is unchanged and an empty one erased; a PUT that answers only `{customerId}`; a phone
change by the customer that waits for an SMS code (`confirm-change`, 204); status with "15.00%"
strings and no nextLevel keys at the top level; error bodies that differ by layer.

This module is long because it holds the whole request surface; data and form rules are in
open_loyalty_model.py.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any, Literal
from urllib.parse import parse_qsl

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from customer_gateway.sandbox.common import (
    Clock,
    Journal,
    Outbox,
    OutboxMessage,
    emulator_app,
)
from customer_gateway.sandbox.faults import FaultPlan
from customer_gateway.sandbox.open_loyalty_model import (
    DEMO_CUSTOMERS,
    LEVELS,
    DemoLoyaltyCustomer,
    LoyaltyCustomer,
    form_errors,
    new_customer_id,
    parse_brackets,
    percent,
)

__all__ = [
    "DEMO_ADMIN_PASSWORD",
    "DEMO_ADMIN_USERNAME",
    "DEMO_CUSTOMERS",
    "DEMO_STORE_CODE",
    "DemoLoyaltyCustomer",
    "OpenLoyaltySandbox",
]

DEMO_ADMIN_USERNAME = "admin"
DEMO_ADMIN_PASSWORD = "loyalty-admin-pass"
DEMO_STORE_CODE = "DEFAULT"
REFRESH_TTL_S = 30 * 86400
_ADMIN_ID = "22200000-0000-474c-b092-b0dd880c07e2"


class OpenLoyaltyError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status, self.body = status, body

    @classmethod
    def framework(cls, status: int, message: str) -> OpenLoyaltyError:
        return cls(status, {"error": {"code": status, "message": message}})

    @classmethod
    def jwt(cls, message: str) -> OpenLoyaltyError:
        return cls(401, {"code": 401, "message": message})


@cache
def _signing_key() -> rsa.RSAPrivateKey:
    """One RSA key per process: generating one per sandbox would slow every test down."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class OpenLoyaltySandbox:
    def __init__(
        self,
        *,
        store_code: str = DEMO_STORE_CODE,
        admin_username: str = DEMO_ADMIN_USERNAME,
        admin_password: str = DEMO_ADMIN_PASSWORD,
        clock: Clock | None = None,
        seed: bool = True,
        token_ttl_s: int = 86400,
        tier_assign_type: Literal["points", "transactions"] = "points",
    ) -> None:
        self.store_code = store_code
        self.admin_username, self.admin_password = admin_username, admin_password
        self.clock = clock or Clock()
        self.token_ttl_s = token_ttl_s
        self.tier_assign_type = tier_assign_type
        self.journal = Journal()
        self.faults = FaultPlan()
        self.outbox = Outbox()
        self._customers: dict[str, LoyaltyCustomer] = {}
        self._refresh: dict[str, tuple[str, float]] = {}  # token -> (subject id, valid until)
        if seed:
            for demo in DEMO_CUSTOMERS:
                self.add_customer(
                    email=demo.email,
                    password=demo.password,
                    first_name=demo.first_name,
                    last_name=demo.last_name,
                    phone=demo.phone,
                    points=demo.points,
                )
        self.app = emulator_app(
            self._routes(),
            journal=self.journal,
            outbox=self.outbox,
            clock=self.clock,
            faults=self.faults,
        )

    # --- helpers for tests and the demo ------------------------------------------------

    def add_customer(
        self,
        *,
        email: str,
        password: str = "",
        first_name: str = "",
        last_name: str = "",
        phone: str | None = None,
        points: float = 0.0,
        level_name: str | None = None,
        active: bool = True,
    ) -> dict[str, Any]:
        now = self.clock.now()
        customer = LoyaltyCustomer(
            customer_id=new_customer_id(),
            fields={"firstName": first_name, "lastName": last_name, "email": email, "phone": phone},
            password=password or secrets.token_urlsafe(12),
            points=points,
            created_at=now,
            updated_at=now,
            active=active,
            transactions_count=int(points // 100),
            transactions_amount=float(points // 10),
        )
        if level_name is not None:
            customer.manual_level_id = next(lv.level_id for lv in LEVELS if lv.name == level_name)
        self._customers[customer.customer_id] = customer
        return customer.view()

    def customer(self, customer_id: str) -> dict[str, Any]:
        return self._customers[customer_id].view()

    def levels(self) -> list[dict[str, Any]]:
        return [level.admin_view() for level in LEVELS]

    def issue_customer_token(self, customer_id: str) -> str:
        return self._jwt(customer_id, self._customers[customer_id].fields["email"], admin=False)

    def issue_admin_token(self) -> str:
        return self._jwt(_ADMIN_ID, self.admin_username, admin=True)

    # --- tokens ------------------------------------------------------------------------

    def _jwt(self, subject: str, username: str, *, admin: bool) -> str:
        now = int(self.clock.now())
        claims: dict[str, Any] = {
            "iat": now,
            "exp": now + self.token_ttl_s,
            "username": username,
            "roles": ["ROLE_ADMIN"] if admin else ["ROLE_PARTICIPANT"],
            "id": subject,
            "lastLoginAt": None,
        }
        if admin:
            claims.update({"permissions": {}, "superAdmin": True})
        head = _b64(b'{"alg":"RS256","typ":"JWT"}')
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = _signing_key().sign(
            f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{head}.{body}.{_b64(signature)}"

    def _login(self, subject: str, username: str, *, admin: bool) -> JSONResponse:
        refresh = secrets.token_hex(64)
        self._refresh[refresh] = (subject, self.clock.now() + REFRESH_TTL_S)
        return JSONResponse(
            {"token": self._jwt(subject, username, admin=admin), "refresh_token": refresh}
        )

    def _claims(self, request: Request) -> dict[str, Any]:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise OpenLoyaltyError.jwt("JWT Token not found")
        try:
            head, body, signature = token.strip().split(".")
            _signing_key().public_key().verify(
                _unb64(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            claims = json.loads(_unb64(body))
        except (ValueError, InvalidSignature):
            raise OpenLoyaltyError.jwt("Invalid JWT Token") from None
        if not isinstance(claims, dict):
            raise OpenLoyaltyError.jwt("Invalid JWT Token")
        if self.clock.now() >= float(claims.get("exp", 0)):
            raise OpenLoyaltyError.jwt("Expired JWT Token")
        return claims

    def _admin(self, request: Request) -> dict[str, Any]:
        claims = self._claims(request)
        if "ROLE_ADMIN" not in claims.get("roles", []):
            raise OpenLoyaltyError.framework(403, "Forbidden")
        return claims

    def _subject(self, request: Request, customer_id: str) -> tuple[LoyaltyCustomer, bool]:
        """The customer and whether an admin asks; a customer may only reach itself."""
        claims = self._claims(request)
        admin = "ROLE_ADMIN" in claims.get("roles", [])
        customer = self._customers.get(customer_id)
        if customer is None:
            raise OpenLoyaltyError.framework(404, "Not Found")
        if not admin and claims.get("id") != customer_id:
            raise OpenLoyaltyError.framework(403, "Forbidden")
        return customer, admin

    # --- plumbing ----------------------------------------------------------------------

    async def _params(self, request: Request) -> list[tuple[str, str]]:
        """Form pairs, or a JSON object flattened the way FOSRest's body listener does."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type == "application/json":
            try:
                data = await request.json()
            except ValueError:
                raise OpenLoyaltyError.framework(400, "Bad Request") from None
            return _flatten(data) if isinstance(data, dict) else []
        body = (await request.body()).decode("utf-8", "replace")
        return parse_qsl(body, keep_blank_values=True)  # `customer[phone]=` means "erase"

    def _routes(self) -> list[Route]:
        def endpoint(handler: Callable[[Request], Awaitable[Response]]) -> Any:
            async def run(request: Request) -> Response:
                if request.path_params.get("sc", self.store_code) != self.store_code:
                    return JSONResponse({"error": {"code": 404, "message": "Not Found"}}, 404)
                try:
                    return await handler(request)
                except OpenLoyaltyError as error:
                    return JSONResponse(error.body, status_code=error.status)

            return run

        sc = "/api/{sc}"
        table: list[tuple[str, Callable[[Request], Awaitable[Response]], list[str]]] = [
            ("/api/admin/login_check", self._admin_login, ["POST"]),
            (f"{sc}/customer/login_check", self._customer_login, ["POST"]),
            ("/api/token/refresh", self._refresh_token, ["POST"]),
            ("/api/token/revoke", self._revoke, ["GET"]),
            (f"{sc}/customer/level", self._customer_levels, ["GET"]),
            (f"{sc}/customer/register", self._register, ["POST"]),
            (f"{sc}/admin/customer/register", self._register, ["POST"]),
            (f"{sc}/customer/confirm-change/{{code}}", self._confirm_change, ["POST"]),
            (f"{sc}/customer", self._list, ["GET"]),
            (f"{sc}/admin/customer", self._list, ["GET"]),
            (f"{sc}/customer/{{customer}}", self._customer_route, ["GET", "PUT"]),
            (f"{sc}/admin/customer/{{customer}}/status", self._status, ["GET"]),
            (f"{sc}/customer/customer/{{customer}}/status", self._status, ["GET"]),
            (f"{sc}/seller/customer/{{customer}}/status", self._status, ["GET"]),
            (f"{sc}/admin/customer/{{customer}}/activate", self._activate, ["POST"]),
            (f"{sc}/admin/customer/{{customer}}/deactivate", self._activate, ["POST"]),
            (f"{sc}/customer/{{customer}}/level", self._assign_level, ["POST"]),
            (f"{sc}/level", self._levels, ["GET"]),
            (f"{sc}/level/{{level}}", self._level, ["GET"]),
        ]
        return [Route(path, endpoint(handler), methods=methods) for path, handler, methods in table]

    # --- auth endpoints ----------------------------------------------------------------

    async def _admin_login(self, request: Request) -> Response:
        params = dict(await self._params(request))
        ok = secrets.compare_digest(params.get("_username", ""), self.admin_username) and (
            secrets.compare_digest(params.get("_password", ""), self.admin_password)
        )
        if not ok:
            raise OpenLoyaltyError(401, {"code": 401, "message": "Bad credentials"})
        return self._login(_ADMIN_ID, self.admin_username, admin=True)

    async def _customer_login(self, request: Request) -> Response:
        params = dict(await self._params(request))
        username = params.get("_username", "").casefold()
        customer = next(
            (
                c
                for c in self._customers.values()
                if username
                and username
                in (
                    str(c.fields.get(k) or "").casefold()
                    for k in ("email", "phone", "loyaltyCardNumber")
                )
            ),
            None,
        )
        password = params.get("_password", "")
        if (
            customer is None
            or not customer.active
            or not secrets.compare_digest(password, customer.password)
        ):
            raise OpenLoyaltyError(401, {"code": 401, "message": "Bad credentials"})
        return self._login(customer.customer_id, customer.fields["email"], admin=False)

    async def _refresh_token(self, request: Request) -> Response:
        token = dict(await self._params(request)).get("refresh_token", "")
        entry = self._refresh.get(token)
        if entry is None or entry[1] <= self.clock.now():
            # gesdinet's answer for an unknown or expired refresh token.
            raise OpenLoyaltyError(
                401, {"code": 401, "message": "An authentication exception occurred."}
            )
        subject, _ = entry
        self._refresh[token] = (subject, self.clock.now() + REFRESH_TTL_S)  # ttl_update: true
        admin = subject == _ADMIN_ID
        username = self.admin_username if admin else self._customers[subject].fields["email"]
        return JSONResponse(
            {"token": self._jwt(subject, username, admin=admin), "refresh_token": token}
        )

    async def _revoke(self, request: Request) -> Response:
        subject = self._claims(request).get("id")
        self._refresh = {k: v for k, v in self._refresh.items() if v[0] != subject}
        return JSONResponse([])

    # --- customers ---------------------------------------------------------------------

    async def _list(self, request: Request) -> Response:
        self._admin(request)
        query = request.query_params
        strict = query.get("strict", "0") == "1"
        rows = list(self._customers.values())
        for key in ("firstName", "lastName", "phone", "email", "loyaltyCardNumber"):
            wanted = query.get(key)
            if wanted:
                rows = [c for c in rows if _matches(str(c.fields.get(key) or ""), wanted, strict)]
        sort = query.get("sort", "createdAt")
        descending = query.get("direction", "desc").lower() == "desc"
        rows.sort(
            key=lambda c: (
                c.created_at if sort == "createdAt" else str(c.fields.get(sort) or ""),
                c.customer_id,
            ),
            reverse=descending,
        )
        try:
            page, per_page = (
                max(1, int(query.get("page", "1"))),
                max(1, int(query.get("perPage", "10"))),
            )
        except ValueError:
            raise OpenLoyaltyError.framework(400, "Bad Request") from None
        chunk = rows[(page - 1) * per_page : page * per_page]
        return JSONResponse({"customers": [c.view() for c in chunk], "total": len(rows)})

    async def _customer_route(self, request: Request) -> Response:
        customer, admin = self._subject(request, request.path_params["customer"])
        if request.method == "GET":
            return JSONResponse(customer.view())
        values = parse_brackets(await self._params(request))
        errors = form_errors(values, taken=self._taken(values, customer))
        if errors is not None:
            return JSONResponse(errors, status_code=400)
        new_phone = values.get("phone")
        if not admin and new_phone and new_phone != customer.fields.get("phone"):
            # The phone is a login credential: it changes only with the SMS code.
            code = f"{secrets.randbelow(10**6):06d}"
            customer.pending_phone = (str(new_phone), code)
            self.outbox.deliver(
                OutboxMessage("sms", str(new_phone), code, "phone_change", self.clock.now())
            )
            values.pop("phone")
        self._apply(customer, values)
        return JSONResponse({"customerId": customer.customer_id})

    def _taken(self, values: dict[str, Any], me: LoyaltyCustomer | None) -> dict[str, bool]:
        taken = {}
        for key in ("email", "phone", "loyaltyCardNumber"):
            value = str(values.get(key) or "").casefold()
            taken[key] = bool(value) and any(
                c is not me and str(c.fields.get(key) or "").casefold() == value
                for c in self._customers.values()
            )
        return taken

    def _apply(self, customer: LoyaltyCustomer, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if key in ("agreement1", "agreement2", "agreement3"):
                customer.fields[key] = value in ("1", "true", True)
            elif key == "address":
                customer.fields["address"] = {k: v for k, v in value.items() if v not in (None, "")}
            elif key == "levelId":
                customer.manual_level_id = value or None
            elif key not in ("posId", "sellerId", "referral_customer_email", "createdAt"):
                customer.fields[key] = value if value != "" else None
        customer.updated_at = self.clock.now()
        customer.version += 1

    async def _register(self, request: Request) -> Response:
        self._admin(request)
        values = parse_brackets(await self._params(request))
        errors = form_errors(
            values, taken=self._taken(values, None), required=("firstName", "lastName", "email")
        )
        if errors is not None:
            return JSONResponse(errors, status_code=400)
        view = self.add_customer(
            email=str(values["email"]),
            first_name=str(values["firstName"]),
            last_name=str(values["lastName"]),
        )
        self._apply(
            self._customers[view["customerId"]], {k: v for k, v in values.items() if k != "email"}
        )
        return JSONResponse({"customerId": view["customerId"], "email": view["email"]})

    async def _confirm_change(self, request: Request) -> Response:
        claims = self._claims(request)
        customer = self._customers.get(str(claims.get("id")))
        code = request.path_params["code"]
        if (
            customer is None
            or customer.pending_phone is None
            or not secrets.compare_digest(customer.pending_phone[1], code)
        ):
            raise OpenLoyaltyError.framework(404, "Not Found")
        customer.fields["phone"] = customer.pending_phone[0]
        customer.pending_phone = None
        customer.updated_at = self.clock.now()
        return Response(status_code=204)

    async def _status(self, request: Request) -> Response:
        path = request.url.path
        customer_id = request.path_params["customer"]
        if "/admin/" in path or "/seller/" in path:
            self._admin(request)
            customer = self._customers.get(customer_id)
            if customer is None:
                raise OpenLoyaltyError.framework(404, "Not Found")
        else:
            customer, _ = self._subject(request, customer_id)
        data = self._status_view(customer)
        if "/customer/customer/" in path and "points" in data:
            data.update({"p2pPoints": 0, "pointsExpiringBreakdown": {}})
        return JSONResponse(data)

    def _status_view(self, customer: LoyaltyCustomer) -> dict[str, Any]:
        base: dict[str, Any] = {
            "firstName": customer.fields.get("firstName"),
            "lastName": customer.fields.get("lastName"),
            "customerId": customer.customer_id,
        }
        if customer.points <= 0 and customer.transactions_count == 0:
            return {**base, "currency": "eur"}  # no points account yet
        level = customer.level()
        higher = sorted(
            (lv for lv in LEVELS if lv.condition_value > level.condition_value),
            key=lambda lv: lv.condition_value,
        )
        amount = customer.transactions_amount
        count = customer.transactions_count
        average = amount / count if count else 0.0
        data = {
            **base,
            "points": customer.points,
            "totalEarnedPoints": customer.points,
            "usedPoints": 0,
            "expiredPoints": 0,
            "lockedPoints": 0,
            "level": percent(level.reward),
            "levelName": level.name,
            "levelConditionValue": level.condition_value,
            "transactionsAmountWithoutDeliveryCosts": amount,
            "averageTransactionsAmount": f"{average:.2f}",  # a string, as Open Loyalty sends it
            "transactionsCount": customer.transactions_count,
            "transactionsAmount": amount,
            "currency": "eur",
        }
        if higher:
            nxt = higher[0]
            data.update(
                {
                    "nextLevel": percent(nxt.reward),
                    "nextLevelName": nxt.name,
                    "nextLevelConditionValue": nxt.condition_value,
                }
            )
            if self.tier_assign_type == "points":
                data["pointsToNextLevel"] = nxt.condition_value - customer.points
            else:
                left = nxt.condition_value - amount
                data["transactionsAmountToNextLevel"] = left
                data["transactionsAmountToNextLevelWithoutDeliveryCosts"] = left
        return data

    async def _activate(self, request: Request) -> Response:
        self._admin(request)
        customer = self._customers.get(request.path_params["customer"])
        if customer is None:
            raise OpenLoyaltyError.framework(404, "Not Found")
        customer.active = request.url.path.endswith("/activate")
        customer.updated_at = self.clock.now()
        return Response(status_code=200)

    async def _assign_level(self, request: Request) -> Response:
        self._admin(request)
        customer = self._customers.get(request.path_params["customer"])
        level_id = dict(await self._params(request)).get("levelId")
        if customer is None:
            raise OpenLoyaltyError.framework(404, "Not Found")
        if not level_id:
            raise OpenLoyaltyError(400, {"levelId": "field is required"})
        if not any(lv.level_id == level_id for lv in LEVELS):
            raise OpenLoyaltyError.framework(404, "Not Found")
        customer.manual_level_id = level_id
        return JSONResponse([])

    # --- levels ------------------------------------------------------------------------

    async def _levels(self, request: Request) -> Response:
        self._admin(request)
        levels = [level.admin_view() for level in LEVELS]
        return JSONResponse({"levels": levels, "total": len(levels)})

    async def _level(self, request: Request) -> Response:
        self._admin(request)
        level = next((lv for lv in LEVELS if lv.level_id == request.path_params["level"]), None)
        if level is None:
            raise OpenLoyaltyError.framework(404, "Not Found")
        return JSONResponse(level.admin_view())

    async def _customer_levels(self, request: Request) -> Response:
        self._claims(request)
        levels = [
            {
                "name": lv.name,
                "description": lv.description,
                "conditionValue": lv.condition_value,
                "hasPhoto": False,
            }
            for lv in LEVELS
        ]
        return JSONResponse({"levels": levels, "total": len(levels)})


def _matches(value: str, wanted: str, strict: bool) -> bool:
    return (
        value.casefold() == wanted.casefold() if strict else wanted.casefold() in value.casefold()
    )


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            pairs.extend(_flatten(value, name))
        elif isinstance(value, bool):
            pairs.append((name, "1" if value else "0"))
        else:
            pairs.append((name, "" if value is None else str(value)))
    return pairs
