"""The gateway's error tree: every failure a layer may raise, as data rather than strings.

```
GatewayError
├── UserFacingError            outcomes the caller can act on; become payload `userErrors`
│   ├── InvalidCredentialsError        INVALID_CREDENTIALS
│   ├── InvalidTokenError              INVALID_TOKEN (refresh with an expired/revoked/unknown token)
│   ├── ValidationError                INVALID / TAKEN, one FieldProblem per offending field
│   └── OtpError                       OTP_INVALID, OTP_EXPIRED, OTP_ATTEMPTS_EXCEEDED,
│                                      NO_PENDING_CHANGE, CHANGE_IN_PROGRESS (retry_after)
├── AuthenticationError        UNAUTHENTICATED  missing, expired or invalid bearer token
├── PermissionDeniedError      FORBIDDEN        not this caller's customer, or no admin key
├── NotFoundError              NOT_FOUND
├── InvalidInputError          BAD_USER_INPUT   unknown backend, malformed id, out-of-range argument
├── UnsupportedError           UNSUPPORTED      the backend lacks the capability
├── RateLimitedError           RATE_LIMITED     with retry_after seconds
└── BackendError
    ├── BackendUnavailableError    BACKEND_UNAVAILABLE  timeout, connection error, 5xx, open circuit
    │   ├── BackendTimeoutError    (outcome_unknown=True when a write may have been applied)
    │   └── StoreUnavailableError  the gateway's own store (backend "store") is down or slow
    └── BackendProtocolError       BACKEND_ERROR        an answer the connector cannot use
```
Messages are fixed texts chosen by the gateway: never a token, code, password or upstream body.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "AuthenticationError",
    "BackendError",
    "BackendProtocolError",
    "BackendTimeoutError",
    "BackendUnavailableError",
    "FieldProblem",
    "GatewayError",
    "InvalidCredentialsError",
    "InvalidInputError",
    "InvalidTokenError",
    "NotFoundError",
    "OtpError",
    "PermissionDeniedError",
    "RateLimitedError",
    "StoreUnavailableError",
    "UnsupportedError",
    "UserFacingError",
    "ValidationError",
    "error_body",
    "error_extensions",
]


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""

    code: str = "INTERNAL"
    default_message: str = "Unexpected error."

    def __init__(self, message: str | None = None, *, backend: str | None = None) -> None:
        self.message = message or self.default_message
        self.backend = backend
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, backend={self.backend!r})"


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One offending field, by its domain path (e.g. ("address", "postal"))."""

    field: tuple[str, ...] | None
    message: str
    code: str = "INVALID"
    retry_after: int | None = None  # seconds, for outcomes that go away by themselves

    # Fixed texts for problems a backend reported: a vendor's own wording never reaches a client.
    MESSAGES: ClassVar[dict[str, str]] = {
        "TAKEN": "This value is already in use.",
        "INVALID": "This value is not valid.",
    }

    @classmethod
    def of(cls, field: tuple[str, ...] | None, code: str) -> FieldProblem:
        return cls(field or None, cls.MESSAGES[code], code)


class UserFacingError(GatewayError):
    """An expected outcome reported in a payload's `userErrors`, not as a GraphQL error."""

    def __init__(
        self,
        message: str | None = None,
        *,
        field: tuple[str, ...] | None = None,
        backend: str | None = None,
    ) -> None:
        super().__init__(message, backend=backend)
        self.field = field

    @property
    def problems(self) -> tuple[FieldProblem, ...]:
        return (FieldProblem(self.field, self.message, self.code),)


class InvalidCredentialsError(UserFacingError):
    code = "INVALID_CREDENTIALS"
    default_message = "The username or password is incorrect."


class InvalidTokenError(UserFacingError):
    code = "INVALID_TOKEN"
    default_message = "The token is expired, revoked or unknown."


class ValidationError(UserFacingError):
    """One or more fields were refused, by the gateway or by the backend."""

    code = "INVALID"
    default_message = "The input is invalid."

    def __init__(
        self, problems: list[FieldProblem] | tuple[FieldProblem, ...], *, backend: str | None = None
    ) -> None:
        super().__init__(problems[0].message if problems else None, backend=backend)
        self._problems = tuple(problems)

    @property
    def problems(self) -> tuple[FieldProblem, ...]:
        return self._problems


class OtpError(UserFacingError):
    """A one-time-password confirmation that did not go through; `code` says why."""

    MESSAGES: ClassVar[dict[str, str]] = {
        "OTP_INVALID": "The code is not correct.",
        "OTP_EXPIRED": "The code has expired; request a new one.",
        "OTP_ATTEMPTS_EXCEEDED": "Too many wrong codes; the change was cancelled.",
        "NO_PENDING_CHANGE": "There is no pending change to confirm.",
        "CHANGE_IN_PROGRESS": "The change is being applied; confirm again shortly.",
    }

    def __init__(
        self,
        code: str,
        *,
        field: tuple[str, ...] | None = ("code",),
        backend: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.code = code
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))
        super().__init__(self.MESSAGES[code], field=field, backend=backend)

    @property
    def problems(self) -> tuple[FieldProblem, ...]:
        return (FieldProblem(self.field, self.message, self.code, self.retry_after),)


class AuthenticationError(GatewayError):
    code = "UNAUTHENTICATED"
    default_message = "A valid bearer token for this backend is required."


class PermissionDeniedError(GatewayError):
    code = "FORBIDDEN"
    default_message = "Not allowed."


class NotFoundError(GatewayError):
    code = "NOT_FOUND"
    default_message = "Not found."


class InvalidInputError(GatewayError):
    code = "BAD_USER_INPUT"
    default_message = "Invalid argument."


class UnsupportedError(GatewayError):
    code = "UNSUPPORTED"
    default_message = "This backend does not support the operation."


class RateLimitedError(GatewayError):
    code = "RATE_LIMITED"
    default_message = "Too many requests; retry later."

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after + 0.999))


class BackendError(GatewayError):
    code = "BACKEND_ERROR"
    default_message = "The backend gave an unexpected answer."


class BackendUnavailableError(BackendError):
    """Unreachable or failing; `outcome_unknown` when a write may have landed anyway."""

    code = "BACKEND_UNAVAILABLE"
    default_message = "The backend is unavailable."

    def __init__(
        self,
        message: str | None = None,
        *,
        backend: str | None = None,
        outcome_unknown: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, backend=backend)
        self.outcome_unknown = outcome_unknown
        self.retry_after = retry_after


class BackendTimeoutError(BackendUnavailableError):
    default_message = "The backend did not answer in time."


class StoreUnavailableError(BackendUnavailableError):
    """The gateway's store did not answer in time; only what needs it fails."""

    default_message = "The gateway's store is unavailable."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, backend="store")


class BackendProtocolError(BackendError):
    code = "BACKEND_ERROR"


def error_extensions(error: GatewayError) -> dict[str, object]:
    """What an answer says of a documented error besides its message: its code, the backend
    at fault, and how long to wait before a retry where that is known."""
    extensions: dict[str, object] = {"code": error.code}
    if error.backend:
        extensions["backend"] = error.backend
    if isinstance(error, RateLimitedError):
        extensions["retryAfter"] = error.retry_after
    return extensions


def error_body(message: str, extensions: Mapping[str, object]) -> bytes:
    """The GraphQL error body of every answer the gateway writes itself, outside an operation's
    result (a refusal at the edge, a failure of the gateway): one error, with its code."""
    return json.dumps({"errors": [{"message": message, "extensions": dict(extensions)}]}).encode()
