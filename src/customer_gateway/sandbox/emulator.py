"""The parts every vendor emulator shares: clock, request journal, fault plan, OTP outbox.

A vendor emulator subclasses Emulator, sets up its own state, then calls `serve()` with its
routes and its demo customers; the app it gets records every vendor request in the journal
(outside the fault plan, so a faulted request is still recorded) and answers the sandbox's own
`/_sandbox/journal`, `/_sandbox/outbox` and `/_sandbox/faults` beside the vendor API.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from customer_gateway.sandbox.clock import Clock
from customer_gateway.sandbox.faults import FaultMiddleware, FaultPlan, fault_routes
from customer_gateway.sandbox.journal import Journal, JournalMiddleware, journal_routes
from customer_gateway.sandbox.outbox import Outbox, outbox_routes

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["Emulator"]


class Emulator:
    """One vendor emulator: its Starlette `app`, and what tests and the demo look at."""

    app: Starlette

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.journal = Journal()
        self.faults = FaultPlan()
        self.outbox = Outbox()

    def add_customer(self, *args: Any, **fields: Any) -> dict[str, Any]:
        """Store a customer directly, as the vendor's back office would (each vendor its own
        fields); answers the record as the vendor API shows it."""
        raise NotImplementedError

    def serve(self, routes: list[Route], demo_customers: Iterable[DataclassInstance] = ()) -> None:
        """Seed the demo customers (each one's fields are `add_customer`'s arguments), then
        answer on the vendor routes."""
        for demo in demo_customers:
            self.add_customer(**asdict(demo))
        self.app = self.build_app(routes)

    def build_app(self, routes: list[Route]) -> Starlette:
        """The vendor routes plus journal, outbox and fault inspection, behind both."""
        return Starlette(
            routes=[
                *routes,
                *journal_routes(self.journal),
                *outbox_routes(self.outbox),
                *fault_routes(self.faults),
            ],
            middleware=[
                Middleware(JournalMiddleware, journal=self.journal, clock=self.clock),
                Middleware(FaultMiddleware, plan=self.faults),
            ],
        )
