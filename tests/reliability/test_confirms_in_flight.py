"""Confirms that meet a write still running, a write whose outcome is unknown, or a record left
behind by a store that died mid-confirm: a distinct, retryable answer, never a second write
before the first one's deadline, and nothing stuck."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import LiveGateway, LiveGatewayFactory, Sandboxes, kibo_backend
from customer_gateway.otp.notify import OutboxNotifier
from support.clock import ManualClock
from support.graphql import gql
from support.redis_server import RedisProcess

SIGN_IN = 'mutation { signIn(backend: "kibo", username: "ada.lovelace@example.com", password: "kibo-demo-pass") { token { accessToken } customer { id nativeId } } }'
REQUEST = 'mutation($id: ID!) { requestEmailChange(id: $id, email: "ada@example.org") { pending userErrors { code } } }'
CONFIRM = "mutation($id: ID!, $c: String!) { confirmEmailChange(id: $id, code: $c) { customer { email } userErrors { code retryAfter } } }"
PENDING = '{ me(backend: "kibo") { email pendingEmailChange } }'
NEW = "ada@example.org"
# Kibo answers within 2 s or not at all: a write's deadline is 2 x (0.5 + 2) = 5 s.
FAST_KIBO = "connect_timeout_s = 0.5\ntimeout_s = 2\nmax_attempts = 1"


class Customer:
    def __init__(self, gateway: LiveGateway, sandboxes: Sandboxes) -> None:
        self.gateway = gateway
        self.kibo = sandboxes.kibo
        signed = gql(gateway.client, SIGN_IN)["data"]["signIn"]
        self.token = signed["token"]["accessToken"]
        self.id = signed["customer"]["id"]
        self.native = int(signed["customer"]["nativeId"])
        assert gql(gateway.client, REQUEST, {"id": self.id}, token=self.token)["data"][
            "requestEmailChange"
        ] == {"pending": True, "userErrors": []}
        notifier = gateway.app.state.services.changes.notifier
        assert isinstance(notifier, OutboxNotifier)
        self.code = str(notifier.messages[-1].code)

    def confirm(self) -> dict[str, Any]:
        return gql(self.gateway.client, CONFIRM, {"id": self.id, "c": self.code}, token=self.token)

    def me(self) -> dict[str, Any]:
        me: dict[str, Any] = gql(self.gateway.client, PENDING, token=self.token)["data"]["me"]
        return me

    def email_at_kibo(self) -> str:
        return str(self.kibo.account(self.native)["emailAddress"])

    def puts(self) -> int:
        return self.kibo.journal.count("PUT", "/accounts/")

    def wait_until_applied(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self.email_at_kibo() != NEW:
            assert time.monotonic() < deadline, "the write never landed"
            time.sleep(0.02)


def in_progress(body: dict[str, Any]) -> int:
    """The retryAfter of a CHANGE_IN_PROGRESS answer (and nothing else in it)."""
    [error] = body["data"]["confirmEmailChange"]["userErrors"]
    assert error["code"] == "CHANGE_IN_PROGRESS", body
    return int(error["retryAfter"])


def succeeded(body: dict[str, Any]) -> bool:
    return body["data"]["confirmEmailChange"] == {"customer": {"email": NEW}, "userErrors": []}


def test_a_confirm_meeting_a_running_write_is_told_to_come_back(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes
) -> None:
    """The first confirm's client gave up while its write (PUT delayed 4 s) still runs."""
    ada = Customer(make_live_gateway(kibo_backend("kibo", sandboxes.url("kibo"))), sandboxes)
    sandboxes.kibo.faults.add("delay", "/accounts/", method="PUT", delay_s=4.0)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{ada.gateway.url}/graphql",
            json={"query": CONFIRM, "variables": {"id": ada.id, "c": ada.code}},
            headers={"Authorization": f"Bearer {ada.token}"},
            timeout=1.0,
        )
    assert ada.puts() == 1  # the write is on its way
    retry_after = in_progress(ada.confirm())
    assert 1 <= retry_after <= 26  # the write's deadline (2 x (3 + 10) s), not a guess
    assert ada.me() == {"email": "ada.lovelace@example.com", "pendingEmailChange": True}
    ada.wait_until_applied()
    assert succeeded(ada.confirm())  # the same code, now that it is done: the same answer
    assert ada.me() == {"email": NEW, "pendingEmailChange": False}
    assert ada.puts() == 1


def test_an_unknown_write_is_not_written_again_before_its_deadline(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes
) -> None:
    """The write times out (2 s) but lands late (3.5 s): a quick repeat must not write again."""
    ada = Customer(
        make_live_gateway(kibo_backend("kibo", sandboxes.url("kibo"), extra=FAST_KIBO)), sandboxes
    )
    sandboxes.kibo.faults.add("delay", "/accounts/", method="PUT", delay_s=3.5)
    first = ada.confirm()
    assert [e["extensions"]["code"] for e in first["errors"]] == ["BACKEND_UNAVAILABLE"]
    assert ada.email_at_kibo() != NEW  # it has not landed yet
    assert 1 <= in_progress(ada.confirm()) <= 5
    ada.wait_until_applied()
    assert succeeded(ada.confirm())
    assert ada.puts() == 1


def test_an_unknown_write_that_never_lands_is_written_after_its_deadline(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes
) -> None:
    clock = ManualClock()
    ada = Customer(
        make_live_gateway(
            kibo_backend("kibo", sandboxes.url("kibo"), extra=FAST_KIBO), clock=clock
        ),
        sandboxes,
    )
    sandboxes.kibo.faults.add("hang", "/accounts/", method="PUT")
    first = ada.confirm()
    assert [e["extensions"]["code"] for e in first["errors"]] == ["BACKEND_UNAVAILABLE"]
    assert in_progress(ada.confirm()) >= 1
    assert ada.puts() == 1
    clock.advance(5.1)  # past the first write's deadline: reconcile, then write
    assert succeeded(ada.confirm())
    assert ada.puts() == 2 and ada.email_at_kibo() == NEW


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(data_dir=tmp_path)
    server.start()
    yield server
    server.stop()


def test_a_record_left_by_a_store_that_died_mid_confirm_is_resolved(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes, durable_redis: RedisProcess
) -> None:
    """The write times out while the store is killed: the record stays `applying` after the
    store comes back. The next read shows what happened, and the next confirm finishes."""
    store = f'[store]\nurl = "{durable_redis.url}"\n[otp]\nsecret = "shared-otp-secret-0123456789"'
    ada = Customer(
        make_live_gateway(
            kibo_backend("kibo", sandboxes.url("kibo"), extra=FAST_KIBO), extra=store
        ),
        sandboxes,
    )
    sandboxes.kibo.faults.add("delay", "/accounts/", method="PUT", delay_s=3.0)
    answer: list[dict[str, Any]] = []
    confirming = threading.Thread(target=lambda: answer.append(ada.confirm()))
    confirming.start()
    deadline = time.monotonic() + 10
    while ada.puts() == 0:  # the change is claimed and its write is on its way
        assert time.monotonic() < deadline
        time.sleep(0.01)
    durable_redis.kill()
    confirming.join(timeout=10)
    [error] = answer[0]["errors"]
    assert error["extensions"] == {"code": "BACKEND_UNAVAILABLE", "backend": "store"}
    durable_redis.start()  # with everything it had written to its append-only file
    ada.wait_until_applied()
    deadline = time.monotonic() + 10
    while ada.gateway.client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the store never came back"
        time.sleep(0.05)
    assert ada.me() == {"email": NEW, "pendingEmailChange": False}  # resolved by the read
    assert succeeded(ada.confirm())
    assert ada.puts() == 1


def test_an_unusable_answer_to_a_write_is_an_unknown_outcome(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes
) -> None:
    """Kibo applies the write and then answers garbage: the gateway cannot tell whether it
    landed, so the next confirm reads before it would write, and finds it done."""
    ada = Customer(make_live_gateway(kibo_backend("kibo", sandboxes.url("kibo"))), sandboxes)
    sandboxes.kibo.faults.add("apply_then_malformed", "/accounts/", method="PUT")
    first = ada.confirm()
    assert [e["extensions"]["code"] for e in first["errors"]] == ["BACKEND_ERROR"]
    assert ada.email_at_kibo() == NEW  # it did land
    assert succeeded(ada.confirm())
    assert ada.puts() == 1  # read back, not written twice
