"""The parts every vendor emulator shares: clock, request journal, fault plan, OTP outbox."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from customer_gateway.sandbox.common import Clock, Journal, Outbox, emulator_app
from customer_gateway.sandbox.faults import FaultPlan

__all__ = ["Emulator"]


class Emulator:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.journal = Journal()
        self.faults = FaultPlan()
        self.outbox = Outbox()

    def build_app(self, routes: list[Route]) -> Starlette:
        """The vendor routes plus journal, outbox and fault inspection, behind both."""
        return emulator_app(
            routes, journal=self.journal, outbox=self.outbox, clock=self.clock, faults=self.faults
        )
