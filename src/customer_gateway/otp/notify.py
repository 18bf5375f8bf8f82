"""How gateway-run one-time codes (and change notices) reach the customer.

`outbox` keeps messages in memory for the demo and tests; `webhook` POSTs JSON to a service the
operator runs (which may send email or SMS); `smtp` sends email itself and SMS through the webhook.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import smtplib
import time
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Protocol

import httpx

__all__ = [
    "SIGNATURE_HEADER",
    "Notifier",
    "OtpMessage",
    "OutboxNotifier",
    "SmtpNotifier",
    "SmtpSettings",
    "WebhookNotifier",
    "sign",
]


@dataclass(frozen=True, slots=True)
class OtpMessage:
    """`code` is None for a notice (e.g. "your email was changed" sent to the old address)."""

    channel: str  # "email" | "sms"
    to: str
    code: str | None
    purpose: str  # "email_change" | "phone_number_change" | "change_notice"
    backend: str
    customer_id: str

    def text(self) -> str:
        if self.code is None:
            return "Your account's contact details were changed. If this was not you, contact us."
        return f"Your confirmation code is {self.code}. It expires in 10 minutes."

    def payload(self) -> dict[str, str | None]:
        data = asdict(self)
        data["customerId"] = data.pop("customer_id")
        return data


class Notifier(Protocol):
    async def send(self, message: OtpMessage) -> None: ...

    async def aclose(self) -> None: ...


class OutboxNotifier:
    """Keeps every message in memory: the demo shows them, tests read them."""

    def __init__(self) -> None:
        self.messages: list[OtpMessage] = []

    async def send(self, message: OtpMessage) -> None:
        self.messages.append(message)

    async def aclose(self) -> None:
        return None


SIGNATURE_HEADER = "X-Customer-Gateway-Signature"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: receivers check it and the age."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class WebhookNotifier:
    """POSTs `{channel, to, code, purpose, backend, customerId}` as JSON, signed with the
    `[otp] secret` so the receiver knows the gateway sent it."""

    def __init__(
        self,
        url: str,
        secret: bytes,
        *,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self._secret = secret
        self._client = httpx.AsyncClient(
            timeout=timeout_s, follow_redirects=False, trust_env=False, transport=transport
        )

    async def send(self, message: OtpMessage) -> None:
        body = json.dumps(message.payload(), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, int(time.time()), body),
        }
        response = await self._client.post(self.url, content=body, headers=headers)
        response.raise_for_status()

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = True


class SmtpNotifier:
    """Email over SMTP (in a worker thread: smtplib blocks); SMS through the webhook, if any."""

    def __init__(self, settings: SmtpSettings, sms: WebhookNotifier | None = None) -> None:
        self.settings = settings
        self.sms = sms

    async def send(self, message: OtpMessage) -> None:
        if message.channel == "sms":
            if self.sms is None:
                raise RuntimeError("no SMS route configured (set [otp] webhook_url)")
            await self.sms.send(message)
            return
        await asyncio.to_thread(self._send_email, message)

    def _send_email(self, message: OtpMessage) -> None:
        email = EmailMessage()
        email["From"] = self.settings.sender
        email["To"] = message.to
        email["Subject"] = (
            "Your confirmation code" if message.code else "Your contact details changed"
        )
        email.set_content(message.text())
        with smtplib.SMTP(self.settings.host, self.settings.port, timeout=10) as smtp:
            if self.settings.starttls:
                smtp.starttls()
            if self.settings.username and self.settings.password:
                smtp.login(self.settings.username, self.settings.password)
            smtp.send_message(email)

    async def aclose(self) -> None:
        if self.sms is not None:
            await self.sms.aclose()
