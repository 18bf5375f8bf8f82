"""The aiohttp engine under the Transport, against a real server on a real socket: what reaches
the wire, and every way an answer can go wrong mapped to the same domain errors as httpx's pool."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from customer_gateway.connectors.routes import Route as UpstreamRoute
from customer_gateway.connectors.transport import Transport
from customer_gateway.domain import (
    BackendProtocolError,
    BackendTimeoutError,
    BackendUnavailableError,
)
from support.live import LiveServer

pytestmark = pytest.mark.anyio

seen: list[dict[str, object]] = []


async def echo(request: Request) -> Response:
    body = await request.body()
    seen.append({"headers": dict(request.headers), "body": body, "query": request.url.query})
    response = JSONResponse({"method": request.method, "length": len(body)})
    response.set_cookie("session", "customer-a")
    return response


async def slow(request: Request) -> Response:
    await asyncio.sleep(2)
    return JSONResponse({})


async def huge(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the cap must still hold
        for _ in range(64):
            yield b"x" * 1024

    return StreamingResponse(chunks())


async def declared_huge(request: Request) -> Response:
    return Response(b"x" * 16 * 1024)


async def zipped(request: Request) -> Response:
    return Response(gzip.compress(b'{"zipped": true}'), headers={"Content-Encoding": "gzip"})


async def redirect(request: Request) -> Response:
    return RedirectResponse("/echo")


class DroppingApp:
    """`POST /drop`: promise a body, then fail, so the server closes the connection mid-answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/drop":
            await self.app(scope, receive, send)
            return
        headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        raise ConnectionAbortedError


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    routes = [
        Route("/echo", echo, methods=["GET", "POST", "PUT"]),
        Route("/slow", slow, methods=["GET", "POST"]),
        Route("/huge", huge),
        Route("/declared-huge", declared_huge),
        Route("/zipped", zipped),
        Route("/redirect", redirect),
    ]
    with LiveServer(DroppingApp(Starlette(routes=routes))) as live:
        yield live


@pytest.fixture
async def transport(server: LiveServer) -> AsyncIterator[Transport]:
    seen.clear()
    t = Transport("shop", server.url, timeout_s=0.5, max_response_bytes=8 * 1024)
    yield t
    await t.aclose()


async def test_headers_query_and_body_reach_the_server(transport: Transport) -> None:
    response = await transport.request(
        "PUT",
        UpstreamRoute("echo").path(),
        headers={"Authorization": "Bearer t"},
        params={"a": "1"},
        json={"x": 1},
    )
    assert response.status == 200 and response.json() == {"method": "PUT", "length": 7}
    headers = seen[0]["headers"]
    assert isinstance(headers, dict)
    assert headers["authorization"] == "Bearer t"
    assert headers["user-agent"] == "customer-gateway"
    assert headers["content-type"] == "application/json"
    assert len(headers["x-request-id"]) == 36
    assert seen[0]["query"] == "a=1" and seen[0]["body"] == b'{"x":1}'


async def test_cookies_set_by_one_answer_never_ride_along(transport: Transport) -> None:
    await transport.request("GET", UpstreamRoute("echo").path())
    await transport.request("GET", UpstreamRoute("echo").path())
    assert all("cookie" not in entry["headers"] for entry in seen)  # type: ignore[operator]


async def test_gzip_answers_are_decoded(transport: Transport) -> None:
    assert (await transport.request("GET", UpstreamRoute("zipped").path())).json() == {
        "zipped": True
    }


@pytest.mark.parametrize("path", ["huge", "declared-huge"])
async def test_answers_over_the_cap_are_refused(transport: Transport, path: str) -> None:
    with pytest.raises(BackendProtocolError):
        await transport.request("GET", UpstreamRoute(path).path())


async def test_redirects_are_not_followed(transport: Transport) -> None:
    with pytest.raises(BackendProtocolError):
        await transport.request("GET", UpstreamRoute("redirect").path())
    assert seen == []


async def test_a_slow_write_times_out_with_an_unknown_outcome(transport: Transport) -> None:
    with pytest.raises(BackendTimeoutError) as caught:
        await transport.request("POST", UpstreamRoute("slow").path())
    assert caught.value.outcome_unknown is True


async def test_a_dropped_connection_after_a_write_is_an_unknown_outcome(
    transport: Transport,
) -> None:
    with pytest.raises(BackendUnavailableError) as caught:
        await transport.request("POST", UpstreamRoute("drop").path())
    assert caught.value.outcome_unknown is True


async def test_a_refused_connection_is_unavailable_with_a_known_outcome() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    t = Transport("shop", f"http://127.0.0.1:{port}", max_attempts=1)
    try:
        with pytest.raises(BackendUnavailableError) as caught:
            await t.request("POST", UpstreamRoute("echo").path())
        assert caught.value.outcome_unknown is False
    finally:
        await t.aclose()


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no certificate authority vouches for."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = tmp / "key.pem", tmp / "cert.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


async def test_a_backend_whose_certificate_nobody_vouches_for_is_refused(tmp_path: Path) -> None:
    key_file, cert_file = self_signed(tmp_path)
    app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
    seen.clear()
    with LiveServer(app, ssl_keyfile=str(key_file), ssl_certfile=str(cert_file)) as live:
        t = Transport("shop", live.url.replace("http://", "https://"), max_attempts=1)
        try:
            with pytest.raises(BackendUnavailableError) as caught:
                await t.request(
                    "POST", UpstreamRoute("echo").path(), json={"secret": "not for strangers"}
                )
        finally:
            await t.aclose()
    assert caught.value.outcome_unknown is False and seen == []
