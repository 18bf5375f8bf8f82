"""Shared fixtures: vendor sandboxes on a real 127.0.0.1 port, and gateways in front of them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from customer_gateway.app import build_app
from customer_gateway.demo import toml_pairs
from customer_gateway.sandbox.kibo import DEMO_APPLICATION, KiboSandbox
from customer_gateway.sandbox.menu import MenuSandbox
from customer_gateway.sandbox.open_loyalty import (
    DEMO_ADMIN_PASSWORD,
    DEMO_ADMIN_USERNAME,
    OpenLoyaltySandbox,
)
from customer_gateway.settings import parse_settings
from support.faulty import faulty_app
from support.live import LiveServer, Swappable

ADMIN_KEY = "test-admin-key-0123456789"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests (`pytest.mark.anyio`) run on asyncio, the loop the gateway serves on."""
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def canary_scan() -> Iterator[None]:
    """P14: no secret or personal data in any log record or GraphQL error of the whole run."""
    from support.canary import capture

    root = logging.getLogger()
    previous = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(capture)
    root.setLevel(previous)
    leaks = capture.leaks()
    assert leaks == [], f"{len(leaks)} leaks, first: {leaks[:3]}"


FAULT_MODES = ("html", "slow", "redirect", "500", "wrong-shape")


@pytest.fixture(scope="session")
def upstream() -> Iterator[tuple[LiveServer, Swappable]]:
    """One real uvicorn server for the whole run; each test mounts fresh sandboxes on it."""
    swap = Swappable()
    with LiveServer(swap) as server:
        yield server, swap


class Sandboxes:
    """The sandboxes of one test, mounted under /menu, /menu-phone, ... on the live server."""

    def __init__(self, server: LiveServer, swap: Swappable) -> None:
        self.server = server
        self.menu = MenuSandbox()
        self.menu_phone = MenuSandbox(auth_type="phone")
        self.loyalty = OpenLoyaltySandbox()
        self.kibo = KiboSandbox()
        swap.app = Starlette(
            routes=[
                Mount("/kibo", app=self.kibo.app),
                Mount("/menu", app=self.menu.app),
                Mount("/menu-phone", app=self.menu_phone.app),
                Mount("/loyalty", app=self.loyalty.app),
                *(Mount(f"/{mode}", app=faulty_app(mode)) for mode in FAULT_MODES),
            ]
        )

    def url(self, mount: str) -> str:
        return f"{self.server.url}/{mount}/api"


@pytest.fixture
def sandboxes(upstream: tuple[LiveServer, Swappable]) -> Sandboxes:
    return Sandboxes(*upstream)


@pytest.fixture
def menu(sandboxes: Sandboxes) -> MenuSandbox:
    return sandboxes.menu


def menu_backend(name: str, base_url: str, *, auth_type: str = "email", extra: str = "") -> str:
    from customer_gateway.sandbox.menu import DEMO_APPLICATION_KEY

    return f"""
[backends.{name}]
kind = "menu"
base_url = "{base_url}"
application = "{DEMO_APPLICATION_KEY}"
auth_type = "{auth_type}"
{extra}
"""


GatewayFactory = Callable[..., TestClient]


@pytest.fixture
def make_gateway() -> Iterator[GatewayFactory]:
    """Build a gateway from TOML backend sections; driven through Starlette's TestClient."""
    clients: list[TestClient] = []

    def make(
        backends: str,
        *,
        gateway: str = "introspection = true",
        extra: str = "",
        clock: Callable[[], float] = time.time,
    ) -> TestClient:
        text = f'[gateway]\nadmin_keys = ["{ADMIN_KEY}"]\n{gateway}\n{extra}\n{backends}'
        app = build_app(parse_settings(text, env={}), clock=clock)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@dataclass
class LiveGateway:
    """A gateway on a real uvicorn server, for tests that send concurrent requests."""

    app: Starlette
    client: httpx.Client
    url: str


LiveGatewayFactory = Callable[..., LiveGateway]


@pytest.fixture
def make_live_gateway() -> Iterator[LiveGatewayFactory]:
    started: list[tuple[LiveServer, httpx.Client]] = []

    def make(
        backends: str, *, extra: str = "", clock: Callable[[], float] = time.time
    ) -> LiveGateway:
        text = f'[gateway]\nadmin_keys = ["{ADMIN_KEY}"]\n{extra}\n{backends}'
        app = build_app(parse_settings(text, env={}), clock=clock)
        server = LiveServer(app).__enter__()
        client = httpx.Client(base_url=server.url, timeout=15)
        started.append((server, client))
        return LiveGateway(app, client, server.url)

    yield make
    for server, client in started:
        client.close()
        server.__exit__(None, None, None)


@pytest.fixture
def gateway(make_gateway: GatewayFactory, sandboxes: Sandboxes) -> TestClient:
    """A gateway with an email-auth Menu brand ("menu") and a phone-auth one ("menu_phone")."""
    return make_gateway(
        menu_backend("menu", sandboxes.url("menu"))
        + menu_backend("menu_phone", sandboxes.url("menu-phone"), auth_type="phone")
    )


def loyalty_backend(name: str, base_url: str, extra: str = "") -> str:
    return f"""
[backends.{name}]
kind = "open_loyalty"
base_url = "{base_url}"
admin_username = "{DEMO_ADMIN_USERNAME}"
admin_password = "{DEMO_ADMIN_PASSWORD}"
{extra}
"""


@pytest.fixture
def linked_gateway(make_gateway: GatewayFactory, sandboxes: Sandboxes) -> TestClient:
    """Menu linked to Open Loyalty ("loyalty"), which is also reachable on its own."""
    return make_gateway(
        menu_backend("menu", sandboxes.url("menu"), extra='loyalty = "loyalty"')
        + loyalty_backend("loyalty", sandboxes.url("loyalty"))
    )


def kibo_backend(name: str, base_url: str, extra: str = "") -> str:
    return f"""
[backends.{name}]
kind = "kibo"
base_url = "{base_url}"
auth_url = "{base_url}"
{toml_pairs(DEMO_APPLICATION)}
{extra}
"""


@pytest.fixture
def kibo_gateway(make_gateway: GatewayFactory, sandboxes: Sandboxes) -> TestClient:
    """Kibo linked to Open Loyalty."""
    return make_gateway(
        kibo_backend("kibo", sandboxes.url("kibo"), extra='loyalty = "loyalty"')
        + loyalty_backend("loyalty", sandboxes.url("loyalty"))
    )


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis server for the whole run (the shared store is tested against the real thing)."""
    from support.redis_server import redis_server

    with redis_server() as url:
        yield url
