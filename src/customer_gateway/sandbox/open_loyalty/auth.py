"""Tokens of the Open Loyalty emulator: Lexik RS256 JWTs and gesdinet refresh tokens.

Each sandbox signs with its own RSA key (made on first use, so sandboxes that never issue a token
cost nothing), so a token from one sandbox is an "Invalid JWT Token" in another. The JWT layer
answers with Lexik's bodies (`{"code": 401, "message": …}`), unlike the framework layer's
`{"error": {"code", "message"}}`; both are raised as `OpenLoyaltyError`.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from customer_gateway.sandbox.clock import Clock
from customer_gateway.sandbox.open_loyalty.model import LoyaltyCustomer, timestamp

__all__ = [
    "REFRESH_TTL_S",
    "OpenLoyaltyError",
    "RefreshTokens",
    "TokenSigner",
    "admin_claims",
    "bearer_token",
    "customer_claims",
]

REFRESH_TTL_S = 30 * 86400  # gesdinet/jwt-refresh-token-bundle's default lifetime


class OpenLoyaltyError(Exception):
    """An error answer; `body` is exactly what the vendor's layer sends."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body

    @classmethod
    def framework(cls, status: int, message: str) -> OpenLoyaltyError:
        """FOSRest/Symfony's body for 400/403/404/405."""
        return cls(status, {"error": {"code": status, "message": message}})

    @classmethod
    def jwt(cls, message: str) -> OpenLoyaltyError:
        """Lexik's body: "JWT Token not found", "Invalid JWT Token", "Expired JWT Token"."""
        return cls(401, {"code": 401, "message": message})

    @classmethod
    def refresh_failed(cls) -> OpenLoyaltyError:
        """gesdinet throws an AuthenticationException for an unknown, expired or refused refresh
        token; Lexik's failure handler answers with that exception's message key."""
        return cls(401, {"code": 401, "message": "An authentication exception occurred."})

    @classmethod
    def bad_credentials(cls) -> OpenLoyaltyError:
        return cls(401, {"code": 401, "message": "Bad credentials"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def bearer_token(authorization: str) -> str | None:
    """Lexik's AuthorizationHeaderTokenExtractor: prefix `Bearer` (any case), one space."""
    scheme, _, token = authorization.partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def admin_claims(username: str, user_id: str, last_login: float | None) -> dict[str, Any]:
    """Open Loyalty's onJWTCreated claims for an admin (`permissions`, `superAdmin` included)."""
    return {
        "username": username,
        "roles": ["ROLE_ADMIN"],
        "id": user_id,
        "lastLoginAt": timestamp(last_login) if last_login is not None else None,
        "permissions": {},
        "superAdmin": True,
    }


def customer_claims(customer: LoyaltyCustomer) -> dict[str, Any]:
    """A customer's claims: `id` is its customerId, which is how a client learns who it is."""
    last = customer.last_login_at
    return {
        "username": customer.get("email") or customer.get("phone") or customer.customer_id,
        "roles": ["ROLE_PARTICIPANT"],
        "id": customer.customer_id,
        "lastLoginAt": timestamp(last) if last is not None else None,
    }


class TokenSigner:
    """Signs and verifies this sandbox's RS256 JWTs against its clock."""

    _HEADER = _b64(b'{"alg":"RS256","typ":"JWT"}')  # "eyJhbGciOiJSUzI1NiIsInR5cCI6…" as documented

    def __init__(self, clock: Clock, ttl_s: int) -> None:
        self.clock = clock
        self.ttl_s = ttl_s

    @cached_property
    def key(self) -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def sign(self, claims: dict[str, Any]) -> str:
        now = int(self.clock.now())
        payload = {"iat": now, "exp": now + self.ttl_s, **claims}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        signing_input = f"{self._HEADER}.{body}".encode("ascii")
        signature = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{self._HEADER}.{body}.{_b64(signature)}"

    def verify(self, token: str | None) -> dict[str, Any]:
        """The claims of a valid token, or the Lexik error for a missing/forged/expired one."""
        if not token:
            raise OpenLoyaltyError.jwt("JWT Token not found")
        try:
            head, body, signature = token.split(".")
            header = json.loads(_unb64(head))
            self.key.public_key().verify(
                _unb64(signature),
                f"{head}.{body}".encode("ascii"),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            claims = json.loads(_unb64(body))
        except (ValueError, UnicodeError, InvalidSignature):
            raise OpenLoyaltyError.jwt("Invalid JWT Token") from None
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            raise OpenLoyaltyError.jwt("Invalid JWT Token")
        if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int | float):
            raise OpenLoyaltyError.jwt("Invalid JWT Token")
        if self.clock.now() >= claims["exp"]:
            raise OpenLoyaltyError.jwt("Expired JWT Token")
        return claims


@dataclass
class _Refresh:
    subject: str
    valid_until: float


class RefreshTokens:
    """gesdinet semantics with `ttl_update: true`: each use extends the same token's validity."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._tokens: dict[str, _Refresh] = {}

    def issue(self, subject: str) -> str:
        token = secrets.token_hex(64)  # 128 hex characters, like the bundle's random tokens
        self._tokens[token] = _Refresh(subject, self.clock.now() + REFRESH_TTL_S)
        return token

    def use(self, token: str) -> str:
        """The subject of a valid token (now extended), else the bundle's 401."""
        entry = self._tokens.get(token)
        if entry is None or entry.valid_until <= self.clock.now():
            raise OpenLoyaltyError.refresh_failed()
        entry.valid_until = self.clock.now() + REFRESH_TTL_S
        return entry.subject

    def revoke(self, subject: str) -> None:
        """`GET /api/token/revoke`: every refresh token of the user goes."""
        self._tokens = {k: v for k, v in self._tokens.items() if v.subject != subject}
