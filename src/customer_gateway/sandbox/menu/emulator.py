"""A faithful emulator of Menu's (PAR Ordering) customer API, for the demo, frontends and tests.

This module is long because it holds the brand's whole request surface in one place (tokens,
accounts, OTP changes); its data and input rules live in model.py and rules.py.

What it reproduces, because a connector that ignored it would break against real Menu:
- the `{status, code, data}` envelope, per-endpoint key sets, `""` for an unset phone, naive
  `YYYY-MM-DD HH:MM:SS` timestamps, opt-ins as ints that may arrive as strings;
- HS256 JWTs with tymon/jwt-auth claims (`sub` is an internal number, not the account UUID),
  ttl/refresh_ttl in minutes, no refresh token: `GET /customers/refresh` takes the current JWT
  (even expired, within refresh_ttl) and blacklists it;
- the brand's auth type: only that credential changes behind an OTP (sent to the outbox, never
  returned by the API); the other one changes directly;
- required headers (Application, API-VERSION, X-Request-ID as a UUID, Accept, X-QB-Enabled).
Error bodies are the project's documented choice (Menu publishes none): `{status, code, message,
errors}`. `GET /customers/me` and `GET /customer-accounts/{id}` are pinned emulator extensions.
"""

from __future__ import annotations

import secrets
import string
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from customer_gateway.sandbox.clock import Clock
from customer_gateway.sandbox.emulator import Emulator
from customer_gateway.sandbox.jwt import jwt_decode_hs256, jwt_encode_hs256
from customer_gateway.sandbox.menu.model import (
    DEMO_APPLICATION_KEY,
    DEMO_CUSTOMERS,
    LOGIN_TTL_MIN,
    PRV,
    REFRESH_ISSUED_TTL_MIN,
    REFRESH_KEYS,
    REFRESH_TTL_MIN,
    UPDATE_KEYS,
    Account,
    MenuError,
    Pending,
    ok,
)
from customer_gateway.sandbox.menu.rules import (
    taken,
    update_errors,
    valid_email,
)
from customer_gateway.sandbox.outbox import OutboxMessage

__all__ = ["MenuSandbox"]


class MenuSandbox(Emulator):
    """One Menu brand: its accounts, tokens, pending OTP changes, journal and outbox."""

    def __init__(
        self,
        *,
        auth_type: Literal["email", "phone"] = "email",
        application_key: str = DEMO_APPLICATION_KEY,
        clock: Clock | None = None,
        seed: bool = True,
        phone_unique: bool = True,
        otp_ttl_s: float = 900.0,
        otp_max_attempts: int | None = None,
    ) -> None:
        self.auth_type = auth_type
        self.application_key = application_key
        super().__init__(clock)
        self.phone_unique = phone_unique
        self.otp_ttl_s = otp_ttl_s
        self.otp_max_attempts = otp_max_attempts
        self._secret = secrets.token_bytes(32)
        self._accounts: dict[str, Account] = {}
        self._revoked: set[str] = set()
        self._next_internal = 5090965
        self._session = 28342
        self._passwordless: dict[str, str] = {}
        self.serve(self._routes(), DEMO_CUSTOMERS if seed else ())

    # --- test and demo helpers ---------------------------------------------------------

    def add_customer(
        self,
        *,
        email: str,
        password: str,
        first_name: str = "",
        last_name: str = "",
        phone_number: str = "",
        locale: str = "en",
    ) -> dict[str, Any]:
        now = self._timestamp()
        account_id = str(uuid.uuid4())
        data = {
            "id": account_id,
            "type_id": 1,
            "reference_type": "CustomerAccount",
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "confirmed": True,
            "phone_number": phone_number,
            "locale": locale,
            "state": 1,
            "demographics": [],
            "optin_status_email": 3,
            "optin_status_pn": 3,
            "has_pending_email_change": False,
            "has_pending_phone_number_change": False,
            "is_social": False,
            "social_login": None,
            "updated_at": now,
            "created_at": now,
        }
        self._accounts[account_id] = Account(data, password, self._next_internal)
        self._next_internal += 1
        return dict(data)

    def account(self, account_id: str) -> dict[str, Any]:
        return dict(self._accounts[account_id].data)

    def issue_token(self, account_id: str, *, ttl_minutes: int = LOGIN_TTL_MIN) -> str:
        return self._token(
            self._accounts[account_id], "http://sandbox/api/customers/login", ttl_minutes
        )

    # --- tokens ------------------------------------------------------------------------

    def _timestamp(self) -> str:
        return datetime.fromtimestamp(self.clock.now(), UTC).strftime("%Y-%m-%d %H:%M:%S")

    def _token(self, account: Account, issuer: str, ttl_minutes: int, login: bool = True) -> str:
        now = int(self.clock.now())
        self._session += 1
        alphabet = string.ascii_letters + string.digits
        claims: dict[str, Any] = {}
        if login:
            claims["setRefreshTTL"] = REFRESH_TTL_MIN
        claims.update(
            {
                "iss": issuer,
                "iat": now,
                "exp": now + ttl_minutes * 60,
                "nbf": now,
                "jti": "".join(secrets.choice(alphabet) for _ in range(16)),
                "sub": str(account.internal_id),
                "prv": PRV,
                "application_id": 2015,
                "session_id": self._session,
            }
        )
        return jwt_encode_hs256(claims, self._secret)

    def _token_payload(
        self, account: Account, request: Request, ttl: int, login: bool
    ) -> dict[str, Any]:
        value = self._token(account, str(request.url.replace(query="")), ttl, login)
        return {"value": value, "ttl": ttl, "refresh_ttl": REFRESH_TTL_MIN}

    def _authenticate(self, request: Request, *, for_refresh: bool = False) -> Account:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        claims = (
            jwt_decode_hs256(token.strip(), self._secret) if scheme.lower() == "bearer" else None
        )
        if claims is None or claims.get("jti") in self._revoked:
            raise MenuError(401, "Unauthenticated.")
        now = self.clock.now()
        if for_refresh:
            if now >= int(claims.get("iat", 0)) + REFRESH_TTL_MIN * 60:
                raise MenuError(401, "Token has expired and can no longer be refreshed.")
        elif now >= int(claims.get("exp", 0)):
            raise MenuError(401, "Token has expired.")
        for account in self._accounts.values():
            if str(account.internal_id) == claims.get("sub"):
                return account
        raise MenuError(401, "Unauthenticated.")

    def _own(self, request: Request, account_id: str) -> Account:
        me = self._authenticate(request)
        if account_id not in self._accounts:
            raise MenuError(404, "Customer account not found.")
        if me.data["id"] != account_id:
            raise MenuError(403, "This action is unauthorized.")
        return me

    # --- request plumbing --------------------------------------------------------------

    def _check_headers(self, request: Request) -> None:
        headers = request.headers
        for name in ("Accept", "API-VERSION", "Application", "X-Request-ID", "X-QB-Enabled"):
            if not headers.get(name):
                raise MenuError(400, f"Missing required header: {name}.")
        if "application/json" not in headers["accept"] and "*/*" not in headers["accept"]:
            raise MenuError(400, "Accept must allow application/json.")
        if headers["application"] != self.application_key:
            raise MenuError(401, "Unknown application.")
        try:
            uuid.UUID(headers["x-request-id"])
        except ValueError:
            raise MenuError(400, "X-Request-ID must be a UUID.") from None
        if headers["x-qb-enabled"] not in ("true", "false"):
            raise MenuError(400, "X-QB-Enabled must be true or false.")

    async def _body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise MenuError(400, "Content-Type must be application/json.")
        try:
            body = await request.json()
        except ValueError:
            raise MenuError(400, "The body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise MenuError(400, "The body must be a JSON object.")
        return body

    def _routes(self) -> list[Route]:
        def endpoint(handler: Any) -> Any:
            async def run(request: Request) -> Response:
                try:
                    self._check_headers(request)
                    result: Response = await handler(request)
                    return result
                except MenuError as error:
                    return error.response()

            return run

        table = [
            ("/api/customers/check-email", self._check_email, ["POST"]),
            ("/api/customers/passwordless-request", self._passwordless_request, ["POST"]),
            ("/api/customers/register", self._register, ["POST"]),
            ("/api/customers/login", self._login, ["POST"]),
            ("/api/customers/refresh", self._refresh, ["GET"]),
            ("/api/customers/me", self._me, ["GET"]),
            ("/api/customers/{id}/verify-phone-number-update", self._verify_phone, ["POST"]),
            ("/api/customer-accounts/{id}", self._account_route, ["GET", "PUT"]),
            ("/api/customer-accounts/{id}/verify-email-update", self._verify_email, ["PUT"]),
            ("/api/customer-accounts/{id}/verify-phone-number-update", self._verify_phone, ["PUT"]),
        ]
        return [Route(path, endpoint(handler), methods=methods) for path, handler, methods in table]

    @staticmethod
    def _view(account: Account, keys: tuple[str, ...]) -> dict[str, Any]:
        return {key: account.data[key] for key in keys}

    def _with_token(
        self, account: Account, request: Request, ttl: int, login: bool
    ) -> JSONResponse:
        return ok(
            {
                "customer_account": self._view(account, REFRESH_KEYS),
                "token": self._token_payload(account, request, ttl, login),
            }
        )

    # --- endpoints ---------------------------------------------------------------------

    def _by_email(self, email: str) -> Account | None:
        wanted = email.strip().casefold()
        return next(
            (a for a in self._accounts.values() if a.data["email"].casefold() == wanted), None
        )

    async def _check_email(self, request: Request) -> Response:
        email = str((await self._body(request)).get("email", ""))
        account = self._by_email(email)
        return ok(
            {
                "exists": account is not None,
                "is_social": bool(account and account.data["is_social"]),
            }
        )

    async def _passwordless_request(self, request: Request) -> Response:
        email = str((await self._body(request)).get("email", ""))
        if not valid_email(email):
            raise MenuError(
                422,
                "The given data was invalid.",
                {"email": ["The email must be a valid email address."]},
            )
        code = f"{secrets.randbelow(10**6):06d}"
        self._passwordless[email.casefold()] = code
        purpose = "login" if self._by_email(email) else "sign_up"
        self.outbox.deliver(OutboxMessage("email", email, code, purpose, self.clock.now()))
        return ok()

    def _take_passwordless(self, email: str, code: Any) -> bool:
        expected = self._passwordless.get(email.casefold())
        given = f"{code:06d}" if isinstance(code, int) else str(code)
        if expected is None or not secrets.compare_digest(expected, given):
            return False
        del self._passwordless[email.casefold()]
        return True

    async def _register(self, request: Request) -> Response:
        body = await self._body(request)
        email = str(body.get("passwordless_email", ""))
        if self._by_email(email) is not None:
            raise MenuError(
                422,
                "The given data was invalid.",
                {"passwordless_email": ["The email has already been taken."]},
            )
        if not self._take_passwordless(email, body.get("passwordless_code")):
            raise MenuError(
                422, "The given data was invalid.", {"passwordless_code": ["The code is invalid."]}
            )
        data = self.add_customer(
            email=email,
            password=secrets.token_urlsafe(16),
            first_name=str(body.get("first_name", "")),
            last_name=str(body.get("last_name", "")),
        )
        return self._with_token(self._accounts[data["id"]], request, LOGIN_TTL_MIN, True)

    async def _login(self, request: Request) -> Response:
        body = await self._body(request)
        if "phone_number" in body:
            phone = str(body["phone_number"])
            account = next(
                (a for a in self._accounts.values() if a.data["phone_number"] == phone), None
            )
        else:
            account = self._by_email(str(body.get("email", "")))
        password, code = body.get("password"), body.get("code")
        ok = account is not None and (
            (isinstance(password, str) and secrets.compare_digest(password, account.password))
            or (code is not None and self._take_passwordless(account.data["email"], code))
        )
        if not ok or account is None:
            raise MenuError(401, "Invalid credentials.")
        return self._with_token(account, request, LOGIN_TTL_MIN, True)

    async def _refresh(self, request: Request) -> Response:
        account = self._authenticate(request, for_refresh=True)
        _, _, token = request.headers["authorization"].partition(" ")
        claims = jwt_decode_hs256(token.strip(), self._secret) or {}
        self._revoked.add(str(claims.get("jti")))
        return self._with_token(account, request, REFRESH_ISSUED_TTL_MIN, False)

    async def _me(self, request: Request) -> Response:
        return ok({"customer_account": self._view(self._authenticate(request), UPDATE_KEYS)})

    async def _account_route(self, request: Request) -> Response:
        account = self._own(request, request.path_params["id"])
        if request.method == "GET":
            return ok({"customer_account": self._view(account, UPDATE_KEYS)})
        return await self._update(account, await self._body(request))

    async def _update(self, account: Account, body: dict[str, Any]) -> Response:
        errors = update_errors(
            self._accounts.values(), account, body, self.auth_type, self.phone_unique
        )
        if errors:
            raise MenuError(422, "The given data was invalid.", errors)
        data = account.data
        for key in ("first_name", "last_name"):
            if key in body:
                data[key] = str(body[key])
        for key in ("optin_status_email", "optin_status_pn", "optin_status_sms"):
            if key in body and key != "optin_status_sms":
                data[key] = int(body[key])
        if "demographics" in body:
            data["demographics"] = [dict(d, id=str(uuid.uuid4())) for d in body["demographics"]]
        otp_field = "email" if self.auth_type == "email" else "phone_number"
        for key in ("email", "phone_number"):
            if key not in body or str(body[key]) == data[key]:
                continue
            if key == otp_field:
                self._start_pending(account, key, str(body[key]))
            else:
                data[key] = str(body[key])
        data["updated_at"] = self._timestamp()
        return ok({"customer_account": self._view(account, UPDATE_KEYS)})

    def _start_pending(self, account: Account, key: str, value: str) -> None:
        code = f"{secrets.randbelow(10**6):06d}"
        account.pending[key] = Pending(value, code, self.clock.now() + self.otp_ttl_s)
        account.data[f"has_pending_{key}_change"] = True
        channel, purpose = (
            ("email", "email_change") if key == "email" else ("sms", "phone_number_change")
        )
        self.outbox.deliver(OutboxMessage(channel, value, code, purpose, self.clock.now()))

    async def _verify(self, request: Request, key: str) -> Response:
        account = self._own(request, request.path_params["id"])
        raw = (await self._body(request)).get("confirmation_code")
        code = (
            f"{raw:06d}" if isinstance(raw, int) and not isinstance(raw, bool) else str(raw or "")
        )
        pending = account.pending.get(key)
        flag = f"has_pending_{key}_change"
        invalid = {"confirmation_code": ["The confirmation code is invalid."]}
        if pending is None:
            raise MenuError(
                422,
                "The given data was invalid.",
                {"confirmation_code": ["There is no pending change."]},
            )
        if self.clock.now() >= pending.expires_at:
            del account.pending[key]
            account.data[flag] = False
            raise MenuError(
                422,
                "The given data was invalid.",
                {"confirmation_code": ["The confirmation code has expired."]},
            )
        if not secrets.compare_digest(pending.code, code):
            pending.attempts += 1
            if self.otp_max_attempts is not None and pending.attempts >= self.otp_max_attempts:
                del account.pending[key]
                account.data[flag] = False
            raise MenuError(422, "The given data was invalid.", invalid)
        if taken(self._accounts.values(), key, pending.value, account):
            raise MenuError(
                422, "The given data was invalid.", {key: [f"The {key} has already been taken."]}
            )
        del account.pending[key]
        account.data[key] = pending.value
        account.data[flag] = False
        account.data["updated_at"] = self._timestamp()
        return ok({"customer_account": self._view(account, UPDATE_KEYS)})

    async def _verify_email(self, request: Request) -> Response:
        return await self._verify(request, "email")

    async def _verify_phone(self, request: Request) -> Response:
        return await self._verify(request, "phone_number")
