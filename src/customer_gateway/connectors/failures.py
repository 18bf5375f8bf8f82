"""Upstream failures classified as data: HTTP status or httpx exception -> domain error + retry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from customer_gateway.domain import (
    AuthenticationError,
    BackendError,
    BackendProtocolError,
    BackendTimeoutError,
    BackendUnavailableError,
    GatewayError,
    NotFoundError,
    PermissionDeniedError,
)

__all__ = ["DEFAULT_STATUS_TABLE", "Failure", "classify_exception", "classify_status"]


@dataclass(frozen=True, slots=True)
class Failure:
    error: type[GatewayError]
    retryable: bool = False


# Status -> failure, for statuses the connector did not claim for itself. Other 3xx/4xx fall back
# to BACKEND_ERROR (an answer we cannot use) and other 5xx to BACKEND_UNAVAILABLE (retryable).
DEFAULT_STATUS_TABLE: Mapping[int, Failure] = {
    401: Failure(AuthenticationError),
    403: Failure(PermissionDeniedError),
    404: Failure(NotFoundError),
    408: Failure(BackendUnavailableError, retryable=True),
    429: Failure(BackendUnavailableError, retryable=True),
    501: Failure(BackendProtocolError),
}


def classify_status(status: int, table: Mapping[int, Failure] = DEFAULT_STATUS_TABLE) -> Failure:
    if status in table:
        return table[status]
    if status >= 500:
        return Failure(BackendUnavailableError, retryable=True)
    return Failure(BackendProtocolError)


def classify_exception(exc: httpx.HTTPError, backend: str, *, write: bool) -> BackendError:
    """A transport exception as a domain error; a write that may have landed is marked unknown."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return BackendTimeoutError(backend=backend, outcome_unknown=False)
    if isinstance(exc, httpx.TimeoutException):
        return BackendTimeoutError(backend=backend, outcome_unknown=write)
    if isinstance(exc, httpx.ConnectError):
        return BackendUnavailableError(backend=backend, outcome_unknown=False)
    if isinstance(exc, httpx.TransportError):
        # The connection broke after the request left: the backend may have applied it.
        return BackendUnavailableError(backend=backend, outcome_unknown=write)
    return BackendProtocolError(backend=backend)
