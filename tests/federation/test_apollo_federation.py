"""Federation tools over the gateway, as platform teams run them: Apollo's composition and
@apollo/gateway, The Guild's composition and Hive Gateway, and graphql-js."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL

from conftest import Sandboxes, menu_backend
from customer_gateway.app import build_app
from customer_gateway.domain import decode_customer_id
from customer_gateway.settings import parse_settings
from support.live import LiveServer, free_port
from support.node_tools import install, require

ROOT = Path(__file__).parents[2]


# --- a second subgraph, written for the test: orders that belong to customers ---------------


@strawberry.type
class Order:
    id: strawberry.ID
    total: float
    customer: Customer


@strawberry.federation.type(keys=["id"])
class Customer:
    id: strawberry.ID

    @strawberry.field
    def orders(self) -> list[Order]:
        return [
            Order(id=strawberry.ID(f"order-{i}-for-{self.id}"), total=10.0 * i, customer=self)
            for i in (1, 2)
        ]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Customer:
        return cls(id=id)


ORDER_CUSTOMERS: list[str] = []


@strawberry.type
class OrdersQuery:
    @strawberry.field
    def recent_orders(self) -> list[Order]:
        return [
            Order(
                id=strawberry.ID(f"recent-{i}"), total=5.0, customer=Customer(id=strawberry.ID(c))
            )
            for i, c in enumerate(ORDER_CUSTOMERS)
        ]


ORDERS_SCHEMA = strawberry.federation.Schema(
    query=OrdersQuery, types=[Customer], federation_version="2.7"
)


class HeaderRecorder:
    """Wraps our gateway to see exactly which headers the Apollo gateway forwards to it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers: list[dict[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.headers.append({k.decode().lower(): v.decode() for k, v in scope["headers"]})
        await self.app(scope, receive, send)


def sdl_of(url: str) -> str:
    response = httpx.post(f"{url}/graphql", json={"query": "{ _service { sdl } }"}, timeout=10)
    return str(response.json()["data"]["_service"]["sdl"])


# (composition library, gateway) pairs as each vendor ships them together
STACKS = {"apollo": ("apollo", "apollo"), "hive": ("guild", "hive")}


def compose(
    tools: Path, services: list[dict[str, str]], composer: str = "apollo"
) -> dict[str, Any]:
    node = require("node")
    result = subprocess.run(  # noqa: S603 - node with the test's own script
        [node, "compose.mjs", composer],
        cwd=tools,
        input=json.dumps(services),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def tools() -> Path:
    return install()


@pytest.fixture
def subgraphs(sandboxes: Sandboxes) -> Iterator[tuple[HeaderRecorder, str, str]]:
    text = '[gateway]\nadmin_keys = ["federation-admin-key-0123"]\n' + menu_backend(
        "menu", sandboxes.url("menu")
    )
    ours = HeaderRecorder(build_app(parse_settings(text, env={})))
    with LiveServer(ours) as gateway, LiveServer(GraphQL(ORDERS_SCHEMA), lifespan="off") as orders:
        yield ours, gateway.url, orders.url


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_our_sdl_composes_with_another_subgraph(
    tools: Path, subgraphs: tuple[HeaderRecorder, str, str], stack: str
) -> None:
    _, ours, orders = subgraphs
    result = compose(tools, [
        {"name": "customers", "url": f"{ours}/graphql", "sdl": sdl_of(ours)},
        {"name": "orders", "url": f"{orders}/graphql", "sdl": sdl_of(orders)},
    ], STACKS[stack][0])  # fmt: skip
    assert result["errors"] == []
    substantive = [
        h
        for h in result["hints"]
        if not h["code"].startswith(("INCONSISTENT_DESCRIPTION", "UNUSED_ENUM_TYPE"))
    ]
    assert substantive == []
    supergraph = result["supergraphSdl"]
    assert (
        '@join__type(graph: CUSTOMERS, key: "id")' in supergraph
        and '@join__type(graph: ORDERS, key: "id")' in supergraph
    )


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_a_running_gateway_crosses_both_subgraphs(
    tools: Path, subgraphs: tuple[HeaderRecorder, str, str], tmp_path: Path, stack: str
) -> None:
    recorder, ours, orders = subgraphs
    composer, gateway = STACKS[stack]
    result = compose(tools, [
        {"name": "customers", "url": f"{ours}/graphql", "sdl": sdl_of(ours)},
        {"name": "orders", "url": f"{orders}/graphql", "sdl": sdl_of(orders)},
    ], composer)  # fmt: skip
    supergraph = tmp_path / "supergraph.graphql"
    supergraph.write_text(result["supergraphSdl"])
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - node with the test's own script
        [require("node"), "gateway.mjs", str(port), str(supergraph), gateway],
        cwd=tools,
        # @apollo/gateway's OpenTelemetry set-up looks for a cloud metadata server off this
        # machine (and prints a warning when that fails): the tests talk to 127.0.0.1 only.
        env={**os.environ, "METADATA_SERVER_DETECTION": "none"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed = [process.stdout.readline()]
        while printed[-1] and not printed[-1].startswith("ready") and len(printed) < 50:
            printed.append(process.stdout.readline())  # a gateway's own start-up lines first
        assert printed[-1].startswith("ready"), printed
        url = f"http://127.0.0.1:{port}/"
        signed = httpx.post(
            url,
            json={
                "query": 'mutation { signIn(backend: "menu", username: "ada.lovelace@example.com", password: "menu-demo-pass") { token { accessToken } customer { id } } }'
            },
            timeout=20,
        ).json()
        token = signed["data"]["signIn"]["token"]["accessToken"]
        customer_id = signed["data"]["signIn"]["customer"]["id"]
        headers = {"Authorization": f"Bearer {token}", "Cookie": "session=secret", "X-Foo": "bar"}
        recorder.headers.clear()
        crossed = httpx.post(
            url,
            json={"query": '{ me(backend: "menu") { email orders { id total } } }'},
            headers=headers,
            timeout=20,
        ).json()
        assert crossed["data"]["me"]["email"] == "ada.lovelace@example.com"
        assert [o["id"] for o in crossed["data"]["me"]["orders"]] == [
            f"order-1-for-{customer_id}",
            f"order-2-for-{customer_id}",
        ]
        # The other way round: orders point at customers, resolved by our _entities.
        ORDER_CUSTOMERS[:] = [customer_id]
        back = httpx.post(
            url,
            json={"query": "{ recentOrders { id customer { email phoneNumber } } }"},
            headers=headers,
            timeout=20,
        ).json()
        assert back["data"]["recentOrders"][0]["customer"]["email"] == "ada.lovelace@example.com"
        assert decode_customer_id(customer_id).backend == "menu"
        assert recorder.headers, "our subgraph was not called"
        for seen in recorder.headers:
            assert seen["authorization"] == f"Bearer {token}"
            assert "cookie" not in seen and "x-foo" not in seen
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_schema_file_builds_in_graphql_js(tools: Path) -> None:
    result = subprocess.run(  # noqa: S603 - node with the test's own script
        [require("node"), "build_schema.mjs", str(ROOT / "schema.graphql")],
        cwd=tools,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ")
