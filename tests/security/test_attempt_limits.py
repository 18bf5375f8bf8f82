"""Attempt counters are taken before the attempt, atomically: a hundred concurrent wrong codes
against a slow vendor reach it at most as often as the limit allows, on memory and on Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis

from conftest import (
    LiveGateway,
    LiveGatewayFactory,
    Sandboxes,
    kibo_backend,
    loyalty_backend,
    menu_backend,
)
from support.graphql import gql
from support.redis_server import RedisProcess

GUESSES = 100
VENDOR_DELAY_S = 0.3  # a realistic verify latency: long enough for every guess to arrive

NO_REQUEST_LIMITS = """
[limits]
requests_per_address = 100000
requests_per_token = 100000
"""
# A hundred requests at once on one event loop: a store call can wait on the loop longer than
# the 0.25 s default, which is the outage test's business, not this one's.
REDIS = """
[store]
url = "{url}"
timeout_s = 5
[otp]
secret = "shared-otp-secret-0123456789"
"""
MENU_SIGN_IN = 'mutation { signIn(backend: "menu", username: "ada.lovelace@example.com", password: "menu-demo-pass") { token { accessToken } customer { id } } }'
LOYALTY_SIGN_IN = 'mutation { signIn(backend: "loyalty", username: "ada.lovelace@example.com", password: "loyalty-demo-pass") { token { accessToken } customer { id } } }'
KIBO_SIGN_IN = 'mutation { signIn(backend: "kibo", username: "ada.lovelace@example.com", password: "kibo-demo-pass") { token { accessToken } customer { id } } }'
REQUEST_EMAIL = 'mutation($id: ID!) { requestEmailChange(id: $id, email: "ada@example.org") { pending userErrors { code } } }'
REQUEST_PHONE = 'mutation($id: ID!) { requestPhoneNumberChange(id: $id, phoneNumber: "+14155550188") { pending userErrors { code } } }'
CONFIRM_EMAIL = "mutation($id: ID!, $c: String!) { confirmEmailChange(id: $id, code: $c) { customer { email } userErrors { code } } }"
CONFIRM_PHONE = "mutation($id: ID!, $c: String!) { confirmPhoneNumberChange(id: $id, code: $c) { customer { phoneNumber } userErrors { code } } }"


@dataclass(frozen=True)
class StoreUnderTest:
    config: str  # the `[store]` part of the gateway's config
    redis_url: str | None = None

    def kept_wrong_codes(self, gateway: LiveGateway) -> int:
        """Wrong codes the store counted (checked and wrong), read from the store itself."""
        if self.redis_url is None:
            store = gateway.app.state.services.changes.store
            return sum(n for k, (n, _) in store._windows.items() if k.startswith("otp-wrong:"))
        client = redis.Redis.from_url(self.redis_url, decode_responses=True)
        try:
            names = client.keys("customer-gateway:window:otp-wrong:*")
            return sum(int(client.get(name) or 0) for name in names)
        finally:
            client.close()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[StoreUnderTest]:
    """This process's memory, or a fresh Redis of its own."""
    if request.param == "memory":
        yield StoreUnderTest("")
        return
    server = RedisProcess()
    server.start()
    try:
        yield StoreUnderTest(REDIS.format(url=server.url), server.url)
    finally:
        server.stop()


def wrong(code: str | None) -> str:
    return "000000" if code != "000000" else "111111"


def guess_concurrently(
    gateway: LiveGateway, query: str, variables: dict[str, Any], token: str, count: int = GUESSES
) -> list[str]:
    """`count` confirms at once, each on its own connection; the userError codes they got."""

    async def fire() -> list[dict[str, Any]]:
        limits = httpx.Limits(max_connections=count)
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30, limits=limits) as client:

            async def one() -> dict[str, Any]:
                response = await client.post(
                    "/graphql",
                    json={"query": query, "variables": variables},
                    headers={"Authorization": f"Bearer {token}"},
                )
                return response.json()  # type: ignore[no-any-return]

            return await asyncio.gather(*(one() for _ in range(count)))

    codes = []
    for body in asyncio.run(fire()):
        codes.extend(e["extensions"]["code"] for e in body.get("errors", []))
        if body.get("data"):
            (payload,) = body["data"].values()
            codes.extend(e["code"] for e in payload["userErrors"])
    assert len(codes) == count  # every guess was refused, one way or another
    return codes


def assert_at_most_five_were_checked(codes: list[str]) -> None:
    # Checked and wrong (at most 4, then the 5th cancels), or turned away before any check:
    # attempts taken by guesses still being checked, spent, or the change already cancelled.
    assert set(codes) <= {
        "OTP_INVALID",
        "OTP_ATTEMPTS_EXCEEDED",
        "CHANGE_IN_PROGRESS",
        "NO_PENDING_CHANGE",
    }
    assert codes.count("OTP_INVALID") <= 4


@dataclass(frozen=True)
class VendorFlow:
    """A vendor's own OTP flow, and the verify call the gateway makes for each guess."""

    backend: str
    sign_in: str
    request: str
    confirm: str
    verify_method: str
    verify_path: str


VENDOR_FLOWS = [
    VendorFlow("menu", MENU_SIGN_IN, REQUEST_EMAIL, CONFIRM_EMAIL, "PUT", "verify-email-update"),
    VendorFlow("loyalty", LOYALTY_SIGN_IN, REQUEST_PHONE, CONFIRM_PHONE, "POST", "confirm-change"),
]


@pytest.mark.parametrize("flow", VENDOR_FLOWS, ids=lambda f: f.backend)
def test_a_vendor_verify_sees_at_most_five_of_a_hundred_concurrent_guesses(
    make_live_gateway: LiveGatewayFactory,
    sandboxes: Sandboxes,
    store: StoreUnderTest,
    flow: VendorFlow,
) -> None:
    backend = (menu_backend if flow.backend == "menu" else loyalty_backend)(
        flow.backend, sandboxes.url(flow.backend)
    )
    gateway = make_live_gateway(backend, extra=store.config + NO_REQUEST_LIMITS)
    vendor = sandboxes.menu if flow.backend == "menu" else sandboxes.loyalty
    ada = gql(gateway.client, flow.sign_in)["data"]["signIn"]
    token, cid = ada["token"]["accessToken"], ada["customer"]["id"]
    (requested,) = gql(gateway.client, flow.request, {"id": cid}, token=token)["data"].values()
    assert requested == {"pending": True, "userErrors": []}
    code = vendor.outbox.latest().code
    vendor.faults.add("delay", flow.verify_path, delay_s=VENDOR_DELAY_S, times=1000)
    codes = guess_concurrently(gateway, flow.confirm, {"id": cid, "c": wrong(code)}, token)
    assert vendor.journal.count(flow.verify_method, flow.verify_path) <= 5
    assert_at_most_five_were_checked(codes)
    assert store.kept_wrong_codes(gateway) == 5
    (late,) = gql(gateway.client, flow.confirm, {"id": cid, "c": code}, token=token)[
        "data"
    ].values()
    assert late["userErrors"] == [{"code": "NO_PENDING_CHANGE"}]  # cancelled: the code is dead
    assert vendor.journal.count(flow.verify_method, flow.verify_path) <= 5


def test_the_gateway_run_flow_checks_at_most_five_of_a_hundred_concurrent_guesses(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes, store: StoreUnderTest
) -> None:
    gateway = make_live_gateway(
        kibo_backend("kibo", sandboxes.url("kibo")), extra=store.config + NO_REQUEST_LIMITS
    )
    ada = gql(gateway.client, KIBO_SIGN_IN)["data"]["signIn"]
    token, cid = ada["token"]["accessToken"], ada["customer"]["id"]
    gql(gateway.client, REQUEST_EMAIL, {"id": cid}, token=token)
    code = gateway.app.state.services.changes.notifier.messages[-1].code
    codes = guess_concurrently(gateway, CONFIRM_EMAIL, {"id": cid, "c": wrong(code)}, token)
    assert_at_most_five_were_checked(codes)
    assert store.kept_wrong_codes(gateway) == 5  # the store checked five guesses, no more
    assert "OTP_ATTEMPTS_EXCEEDED" in codes
    late = gql(gateway.client, CONFIRM_EMAIL, {"id": cid, "c": code}, token=token)
    assert late["data"]["confirmEmailChange"]["userErrors"] == [{"code": "NO_PENDING_CHANGE"}]
    assert sandboxes.kibo.journal.count("PUT") == 0


def test_the_daily_ceiling_holds_under_concurrent_guesses(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes, store: StoreUnderTest
) -> None:
    """20 wrong codes a day per customer, across changes: with 19 spent, one more check."""
    gateway = make_live_gateway(
        menu_backend("menu", sandboxes.url("menu")),
        extra=(store.config or "[otp]\n") + "max_attempts = 10\n" + NO_REQUEST_LIMITS,
    )
    menu = sandboxes.menu
    ada = gql(gateway.client, MENU_SIGN_IN)["data"]["signIn"]
    token, cid = ada["token"]["accessToken"], ada["customer"]["id"]
    for spent in (10, 9):  # 19 wrong codes over two changes, one at a time
        gql(gateway.client, REQUEST_EMAIL, {"id": cid}, token=token)
        code = menu.outbox.latest().code  # type: ignore[union-attr]
        for _ in range(spent):
            gql(gateway.client, CONFIRM_EMAIL, {"id": cid, "c": wrong(code)}, token=token)
    gql(gateway.client, REQUEST_EMAIL, {"id": cid}, token=token)
    code = menu.outbox.latest().code  # type: ignore[union-attr]
    menu.journal.clear()
    menu.faults.add("delay", "verify-email-update", delay_s=VENDOR_DELAY_S, times=1000)
    codes = guess_concurrently(gateway, CONFIRM_EMAIL, {"id": cid, "c": wrong(code)}, token)
    assert menu.journal.count("PUT", "verify-email-update") <= 1
    assert "RATE_LIMITED" in codes and codes.count("OTP_INVALID") <= 1
