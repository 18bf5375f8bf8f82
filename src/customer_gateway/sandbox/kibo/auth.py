"""Kibo's two tokens: application tokens from the home pod's OAuth, and shopper auth tickets.

Every tenant call carries an application token (or a ticket's `jwtAccessToken`, which holds the
app claims too) with `x-vol-tenant`/`x-vol-site`; a shopper call adds the ticket's opaque
`accessToken` in `x-vol-user-claims`. Refreshing a ticket rotates its refresh token.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from customer_gateway.sandbox.clock import Clock
from customer_gateway.sandbox.jwt import jwt_decode_hs256, jwt_encode_hs256
from customer_gateway.sandbox.kibo.accounts import Account
from customer_gateway.sandbox.kibo.model import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_SITE,
    DEMO_TENANT,
    KiboError,
    invalid_parameter,
    iso,
)

__all__ = ["KiboAuth", "Ticket"]


@dataclass
class Ticket:
    account_id: int
    access_expires: float
    refresh_token: str
    refresh_expires: float


def _unauthorized_shopper() -> KiboError:
    return KiboError(401, "UNAUTHORIZED", "The user claims are missing, invalid or expired.")


class KiboAuth:
    """The tenant's application credentials, the tokens issued for them, and shopper tickets."""

    def __init__(
        self,
        clock: Clock,
        *,
        tenant: int = DEMO_TENANT,
        site: int = DEMO_SITE,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        app_token_ttl_s: int = 3600,
        access_ttl_s: int = 900,
        refresh_ttl_s: int = 86400,
    ) -> None:
        self.clock = clock
        self.tenant, self.site = tenant, site
        self.client_id, self.client_secret = client_id, client_secret
        self.app_token_ttl_s = app_token_ttl_s
        self.access_ttl_s, self.refresh_ttl_s = access_ttl_s, refresh_ttl_s
        self._secret = secrets.token_bytes(32)
        self._app_tokens: dict[str, float] = {}
        self._app_refresh: set[str] = set()
        self._tickets: dict[str, Ticket] = {}  # opaque accessToken -> ticket
        self._refresh: dict[str, str] = {}  # refresh token -> access token

    # --- application tokens --------------------------------------------------------------

    def issue_app_token(self) -> str:
        token = base64.b64encode(secrets.token_bytes(48)).decode()
        self._app_tokens[token] = self.clock.now() + self.app_token_ttl_s
        return token

    def oauth(self, body: Any) -> dict[str, Any]:
        """The OAuth answer to client credentials, or to a refresh token it issued (used once)."""
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
        return {
            "access_token": self.issue_app_token(),
            "token_type": "Bearer",
            "expires_in": self.app_token_ttl_s,
            "refresh_token": refresh,
        }

    def check_app(self, headers: Mapping[str, str], *, site_required: bool) -> None:
        """The app token and the tenant/site context every tenant call must carry."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        token = token.strip()
        expires = self._app_tokens.get(token) if scheme.lower() == "bearer" else None
        if expires is None and scheme.lower() == "bearer" and self._jwt_ticket(token) is not None:
            expires = self.clock.now() + 1  # a ticket's jwtAccessToken carries the app claims too
        if expires is None or expires <= self.clock.now():
            raise KiboError(401, "UNAUTHORIZED", "Missing or invalid authorization.")
        if headers.get("x-vol-tenant") is None:
            raise invalid_parameter("tenant", "x-vol-tenant")
        if headers.get("x-vol-tenant") != str(self.tenant):
            raise KiboError(403, "FORBIDDEN", "Token not authorized for this tenant.")
        if site_required and headers.get("x-vol-site") != str(self.site):
            raise invalid_parameter("site", "x-vol-site")

    # --- shopper tickets -----------------------------------------------------------------

    def issue_ticket(self, account: Account) -> dict[str, Any]:
        """A new auth ticket for the account, as `POST …/authtickets` answers it."""
        now = self.clock.now()
        access = base64.b64encode(secrets.token_bytes(336)).decode()  # opaque, ~450 chars
        refresh = secrets.token_hex(16)
        self._tickets[access] = Ticket(
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

    def _jwt_ticket(self, token: str) -> Ticket | None:
        claims = jwt_decode_hs256(token, self._secret)
        return self._tickets.get(str(claims.get("x-access"))) if claims else None

    def shopper(self, headers: Mapping[str, str]) -> Ticket | None:
        """The shopper's ticket, or None for a service caller (app token, no user claims)."""
        claims = headers.get("x-vol-user-claims")
        _, _, bearer = headers.get("authorization", "").partition(" ")
        ticket = self._tickets.get(claims) if claims else self._jwt_ticket(bearer.strip())
        if claims is None and ticket is None:
            return None
        if ticket is None or ticket.access_expires <= self.clock.now():
            raise _unauthorized_shopper()
        return ticket

    def current(self, headers: Mapping[str, str]) -> Ticket:
        """The shopper's ticket, which this call cannot do without."""
        ticket = self.shopper(headers)
        if ticket is None:
            raise _unauthorized_shopper()
        return ticket

    def refresh(self, refresh_token: str) -> Ticket:
        """The ticket a refresh token belongs to, which it retires (the caller issues anew)."""
        access = self._refresh.pop(refresh_token, None)
        ticket = self._tickets.pop(access, None) if access else None
        if ticket is None or ticket.refresh_expires <= self.clock.now():
            raise KiboError(401, "UNAUTHORIZED", "The refresh token is invalid or expired.")
        return ticket
