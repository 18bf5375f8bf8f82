"""Where emulated vendors 'send' one-time codes, and `/_sandbox/outbox`, where tests read them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from customer_gateway.sandbox.inspection import INSPECTION_PREFIX

__all__ = ["Outbox", "OutboxMessage", "outbox_routes"]


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A one-time code the emulated vendor 'sent' by email or SMS."""

    channel: str  # "email" | "sms"
    to: str
    code: str
    purpose: str
    at: float


@dataclass
class Outbox:
    """Where emulated vendors deliver OTP codes; never reachable through the vendor API."""

    messages: list[OutboxMessage] = field(default_factory=list)

    def deliver(self, message: OutboxMessage) -> None:
        self.messages.append(message)

    def latest(self, to: str | None = None) -> OutboxMessage | None:
        for message in reversed(self.messages):
            if to is None or message.to == to:
                return message
        return None


def outbox_routes(outbox: Outbox) -> list[Route]:
    """`/_sandbox/outbox`: every code the emulator 'sent', for the demo and tests."""

    async def show_outbox(request: Request) -> Response:
        return JSONResponse([asdict(m) for m in outbox.messages])

    return [Route(f"{INSPECTION_PREFIX}/outbox", show_outbox, methods=["GET"])]
