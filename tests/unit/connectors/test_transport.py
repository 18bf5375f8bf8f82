"""Transport: failure classification, retries for idempotent reads only, request ids, caps."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from customer_gateway.connectors.routes import Route
from customer_gateway.connectors.transport import Transport
from customer_gateway.domain import (
    AuthenticationError,
    BackendProtocolError,
    BackendTimeoutError,
    BackendUnavailableError,
    NotFoundError,
)

pytestmark = pytest.mark.anyio

Handler = Callable[[httpx.Request], httpx.Response]


def transport(handler: Handler, **kw: object) -> tuple[Transport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    t = Transport(
        "menu", "http://upstream.test/api", http_transport=httpx.MockTransport(record), **kw
    )  # type: ignore[arg-type]
    return t, seen


async def test_every_call_gets_a_fresh_uuid_request_id_and_the_default_headers() -> None:
    t, seen = transport(lambda r: httpx.Response(200, json={}), headers={"Application": "app"})
    await t.request("GET", Route("customers/me").path())
    await t.request("GET", Route("customers/me").path())
    ids = [r.headers["x-request-id"] for r in seen]
    assert len(set(ids)) == 2
    assert all(uuid.UUID(i).version == 4 for i in ids)
    assert seen[0].headers["application"] == "app"
    assert seen[0].url == "http://upstream.test/api/customers/me"


async def test_idempotent_reads_are_retried_on_5xx_then_succeed() -> None:
    answers = iter([503, 503, 200])
    t, seen = transport(lambda r: httpx.Response(next(answers), json={"ok": True}))
    response = await t.request("GET", Route("x").path(), idempotent=True)
    assert response.status == 200 and len(seen) == 3


@pytest.mark.parametrize("method", ["PUT", "POST", "GET"])
async def test_writes_and_non_idempotent_calls_are_sent_once(method: str) -> None:
    t, seen = transport(lambda r: httpx.Response(503))
    with pytest.raises(BackendUnavailableError):
        await t.request(
            method, Route("x").path()
        )  # idempotent defaults to False (e.g. Menu's refresh GET)
    assert len(seen) == 1


async def test_retries_stop_after_max_attempts() -> None:
    t, seen = transport(lambda r: httpx.Response(500), max_attempts=3)
    with pytest.raises(BackendUnavailableError):
        await t.request("GET", Route("x").path(), idempotent=True)
    assert len(seen) == 3


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthenticationError),
        (404, NotFoundError),
        (302, BackendProtocolError),
        (418, BackendProtocolError),
        (500, BackendUnavailableError),
    ],
)
async def test_statuses_map_through_the_failure_table(status: int, error: type[Exception]) -> None:
    t, _ = transport(
        lambda r: httpx.Response(status, headers={"location": "http://elsewhere.test/"})
    )
    with pytest.raises(error):
        await t.request("GET", Route("x").path())


async def test_accepted_statuses_reach_the_connector() -> None:
    t, _ = transport(lambda r: httpx.Response(422, json={"errors": {}}))
    response = await t.request("PUT", Route("x").path(), accept=(422,))
    assert response.status == 422 and response.json_object() == {"errors": {}}


async def test_malformed_json_is_a_backend_error() -> None:
    t, _ = transport(lambda r: httpx.Response(200, text="<html>oops</html>"))
    response = await t.request("GET", Route("x").path())
    with pytest.raises(BackendProtocolError):
        response.json()


async def test_non_object_json_is_a_backend_error() -> None:
    t, _ = transport(lambda r: httpx.Response(200, json=[1, 2]))
    with pytest.raises(BackendProtocolError):
        (await t.request("GET", Route("x").path())).json_object()


async def test_oversized_responses_are_refused() -> None:
    t, _ = transport(lambda r: httpx.Response(200, content=b"x" * 2048), max_response_bytes=1024)
    with pytest.raises(BackendProtocolError):
        await t.request("GET", Route("x").path())


def raiser(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


async def test_read_timeout_on_a_write_marks_the_outcome_unknown() -> None:
    t, _ = transport(raiser(httpx.ReadTimeout("slow")))
    with pytest.raises(BackendTimeoutError) as caught:
        await t.request("PUT", Route("x").path())
    assert caught.value.outcome_unknown is True


async def test_connect_errors_are_unavailable_with_a_known_outcome() -> None:
    t, seen = transport(raiser(httpx.ConnectError("refused")))
    with pytest.raises(BackendUnavailableError) as caught:
        await t.request("PUT", Route("x").path())
    assert caught.value.outcome_unknown is False and len(seen) == 1


async def test_dropped_connection_after_a_write_is_unknown_outcome() -> None:
    t, _ = transport(raiser(httpx.RemoteProtocolError("dropped")))
    with pytest.raises(BackendUnavailableError) as caught:
        await t.request("POST", Route("x").path())
    assert caught.value.outcome_unknown is True


async def test_cookies_from_one_answer_never_ride_along_on_the_next() -> None:
    t, seen = transport(
        lambda r: httpx.Response(200, json={}, headers={"Set-Cookie": "session=customer-a; Path=/"})
    )
    await t.request("GET", Route("customers/me").path())
    await t.request("GET", Route("customers/me").path())
    assert "cookie" not in seen[1].headers
