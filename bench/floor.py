"""The floor: the same upstream calls and the same JSON as the gateway, with no GraphQL at all.

A plain Starlette app on uvicorn, aiohttp for the upstream calls, orjson for the answer. It is
what a hand-written REST aggregation endpoint would cost; the gateway is measured against it.

    python bench/floor.py --port 9102 --upstream http://127.0.0.1:9101/sandbox/loyalty/api
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class Floor:
    def __init__(self, upstream: str, username: str, password: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.credentials = {"_username": username, "_password": password}
        self.session: aiohttp.ClientSession | None = None
        self.token = ""

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=100)
        self.session = aiohttp.ClientSession(connector=connector)
        async with self.session.post(
            f"{self.upstream}/admin/login_check", json=self.credentials
        ) as r:
            self.token = (await r.json())["token"]

    async def get(self, path: str) -> Any:
        assert self.session is not None
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        async with self.session.get(f"{self.upstream}/DEFAULT/{path}", headers=headers) as r:
            return orjson.loads(await r.read())

    async def customer(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        native = body["variables"]["id"]
        customer, status = await asyncio.gather(
            self.get(f"customer/{native}"), self.get(f"admin/customer/{native}/status")
        )
        loyalty = {"points": status.get("points"), "level": {"name": status.get("levelName")}}
        data = {
            "id": customer["customerId"],
            "email": customer.get("email"),
            "firstName": customer.get("firstName"),
            "lastName": customer.get("lastName"),
            "loyalty": loyalty,
        }
        return Response(orjson.dumps({"data": {"customer": data}}), media_type="application/json")

    async def customers(self, request: Request) -> Response:
        listing = await self.get("admin/customer?perPage=50&page=1")
        rows = listing["customers"]
        statuses = await asyncio.gather(
            *(self.get(f"admin/customer/{c['customerId']}/status") for c in rows)
        )
        edges = [
            {"node": {"email": c.get("email"), "loyalty": {"points": s.get("points")}}}
            for c, s in zip(rows, statuses, strict=True)
        ]
        return Response(
            orjson.dumps({"data": {"customers": {"edges": edges}}}), media_type="application/json"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="loyalty-admin-pass")
    args = parser.parse_args()
    floor = Floor(args.upstream, args.username, args.password)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await floor.start()
        yield

    app = Starlette(
        routes=[
            Route("/customer", floor.customer, methods=["POST"]),
            Route("/customers", floor.customers, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
