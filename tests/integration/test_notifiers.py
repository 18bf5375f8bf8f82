"""Codes reach customers through real channels: a signed webhook and SMTP. Never through logs."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from starlette.testclient import TestClient

from conftest import GatewayFactory, Sandboxes, kibo_backend
from customer_gateway.otp.notify import SIGNATURE_HEADER
from support.graphql import error_codes, gql
from support.live import LiveServer, free_port
from support.webhook import Receiver

SECRET = "webhook-signing-secret-0123456789"
SIGN_IN = 'mutation { signIn(backend: "kibo", username: "ada.lovelace@example.com", password: "kibo-demo-pass") { token { accessToken } customer { id } } }'
REQUEST = 'mutation($id: ID!) { requestEmailChange(id: $id, email: "ada@example.org") { pending userErrors { code } } }'
CONFIRM = "mutation($id: ID!, $c: String!) { confirmEmailChange(id: $id, code: $c) { customer { email } userErrors { code } } }"
PENDING = '{ me(backend: "kibo") { pendingEmailChange } }'


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver()
    with LiveServer(hook.app) as server:
        yield hook, f"{server.url}/otp"


def sign_in(gateway: TestClient) -> tuple[str, str]:
    signed = gql(gateway, SIGN_IN)["data"]["signIn"]
    return signed["token"]["accessToken"], signed["customer"]["id"]


def webhook_gateway(make: GatewayFactory, sandboxes: Sandboxes, url: str) -> TestClient:
    otp = f'[otp]\nnotifier = "webhook"\nwebhook_url = "{url}"\nsecret = "{SECRET}"\n'
    return make(kibo_backend("kibo", sandboxes.url("kibo")), extra=otp)


def test_webhook_delivers_a_signed_code(
    make_gateway: GatewayFactory, sandboxes: Sandboxes, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    gateway = webhook_gateway(make_gateway, sandboxes, url)
    token, cid = sign_in(gateway)
    assert (
        gql(gateway, REQUEST, {"id": cid}, token=token)["data"]["requestEmailChange"]["pending"]
        is True
    )
    headers, body = hook.requests[-1]
    payload: dict[str, Any] = json.loads(body)
    assert set(payload) == {"channel", "to", "code", "purpose", "backend", "customerId"}
    assert (payload["channel"], payload["to"], payload["purpose"], payload["customerId"]) == (
        "email",
        "ada@example.org",
        "email_change",
        cid,
    )
    stamp, signature = (
        part.split("=", 1)[1] for part in headers[SIGNATURE_HEADER.lower()].split(",")
    )
    expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    done = gql(gateway, CONFIRM, {"id": cid, "c": payload["code"]}, token=token)["data"][
        "confirmEmailChange"
    ]
    assert done["customer"]["email"] == "ada@example.org"
    notice = json.loads(hook.requests[-1][1])
    assert notice["to"] == "ada.lovelace@example.com" and notice["code"] is None


def test_a_failed_delivery_cancels_the_change(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    hook = Receiver(status=500)
    with LiveServer(hook.app) as server:
        gateway = webhook_gateway(make_gateway, sandboxes, f"{server.url}/otp")
        token, cid = sign_in(gateway)
        body = gql(gateway, REQUEST, {"id": cid}, token=token)
        assert error_codes(body) == ["BACKEND_UNAVAILABLE"]
        assert body["errors"][0]["extensions"]["backend"] == "notifier"
        assert gql(gateway, PENDING, token=token)["data"]["me"]["pendingEmailChange"] is False
    unreachable = webhook_gateway(make_gateway, sandboxes, f"http://127.0.0.1:{free_port()}/otp")
    token, cid = sign_in(unreachable)
    assert error_codes(gql(unreachable, REQUEST, {"id": cid}, token=token)) == [
        "BACKEND_UNAVAILABLE"
    ]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def test_smtp_sends_the_code_and_then_a_notice(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        otp = f'[otp]\nnotifier = "smtp"\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\nsmtp_from = "no-reply@example.com"\nsmtp_starttls = false\n'
        gateway = make_gateway(kibo_backend("kibo", sandboxes.url("kibo")), extra=otp)
        token, cid = sign_in(gateway)
        assert (
            gql(gateway, REQUEST, {"id": cid}, token=token)["data"]["requestEmailChange"]["pending"]
            is True
        )
        sender, recipients, content = mailbox.messages[-1]
        assert (sender, recipients) == ("no-reply@example.com", ["ada@example.org"])
        text = message_from_bytes(content).get_payload()
        code = next(
            word.rstrip(".")
            for word in str(text).split()
            if word.rstrip(".").isdigit() and len(word.rstrip(".")) == 6
        )
        assert (
            gql(gateway, CONFIRM, {"id": cid, "c": code}, token=token)["data"][
                "confirmEmailChange"
            ]["userErrors"]
            == []
        )
        _, notice_to, notice = mailbox.messages[-1]
        assert notice_to == ["ada.lovelace@example.com"] and code.encode() not in notice
    finally:
        controller.stop()


def test_codes_never_reach_logs_or_responses(
    kibo_gateway: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token, cid = sign_in(kibo_gateway)
    responses = [gql(kibo_gateway, REQUEST, {"id": cid}, token=token)]
    notifier = kibo_gateway.app.state.services.changes.notifier  # type: ignore[attr-defined]
    code = notifier.messages[-1].code
    responses.append(
        gql(
            kibo_gateway,
            CONFIRM,
            {"id": cid, "c": "000000" if code != "000000" else "111111"},
            token=token,
        )
    )
    responses.append(gql(kibo_gateway, CONFIRM, {"id": cid, "c": code}, token=token))
    assert responses[-1]["data"]["confirmEmailChange"]["userErrors"] == []
    assert code not in caplog.text
    assert all(code not in json.dumps(r) for r in responses)
