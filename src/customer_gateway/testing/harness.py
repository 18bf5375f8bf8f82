"""The suite's fixtures: a sandbox on a real port for each test, and a gateway in front of it.

One uvicorn server per test class serves every test's fresh sandbox (swapped in per test), so a
test pays for a sandbox and a gateway, not for a server. `pytest_generate_tests` runs each test
once per case whose connector declares what the test needs (`requires`) and, for tests that ask
for them, once per declared change flow, undeclared capability or unwritable field: a kind is
tested for what it declares, and for what it does not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import pytest

from customer_gateway.connectors.protocol import Capability, ChangeFlow
from customer_gateway.domain import ChangeKind
from customer_gateway.sandbox.emulator import Emulator
from customer_gateway.testing.case import ConnectorCase, Declared, declared
from customer_gateway.testing.documents import CREDENTIALS, REFUSALS, UPDATE_INPUT, Credential
from customer_gateway.testing.gateway import Gateway
from customer_gateway.testing.live import LiveServer, Swappable

__all__ = ["PARAMETERS", "Change", "GatewayFactory", "Harness", "Sandbox", "requires"]

GatewayFactory = Callable[..., Gateway]
Test = TypeVar("Test", bound=Callable[..., None])


@dataclass(frozen=True)
class Sandbox:
    """The test's sandbox and the URL its connector is pointed at."""

    emulator: Emulator
    url: str


@dataclass(frozen=True)
class Change:
    """A credential change a kind declares, and who confirms it."""

    kind: ChangeKind
    flow: ChangeFlow

    @property
    def credential(self) -> Credential:
        return CREDENTIALS[self.kind]

    def __str__(self) -> str:
        return f"{self.kind.value}-{self.flow.value}"


def _changes(claims: Declared, flows: set[ChangeFlow]) -> list[Change]:
    return [Change(kind, flow) for kind, flow in claims.flows.items() if flow in flows]


# A test taking one of these arguments runs once per value the case's declarations give.
PARAMETERS: dict[str, Callable[[Declared], Sequence[Any]]] = {
    "change": lambda claims: _changes(claims, set(ChangeFlow)),
    "confirmed": lambda claims: _changes(claims, {ChangeFlow.BACKEND_OTP, ChangeFlow.GATEWAY_OTP}),
    "direct": lambda claims: _changes(claims, {ChangeFlow.DIRECT}),
    "unwritable": lambda claims: [
        name
        for name in UPDATE_INPUT
        if Capability.UPDATE_CUSTOMER in claims.capabilities and name not in claims.update_fields
    ],
    "refused": lambda claims: [c for c in REFUSALS if c not in claims.capabilities],
}


def requires(*capabilities: Capability) -> Callable[[Test], Test]:
    """Run the test only for kinds that declare these capabilities (the others are refused
    them, which the refusal test checks)."""

    def mark(test: Test) -> Test:
        test.__dict__["requires"] = frozenset(capabilities)
        return test

    return mark


class Harness:
    """Fixtures and parametrisation shared by the contract's test classes."""

    cases: ClassVar[Sequence[ConnectorCase]] = ()

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "case" not in metafunc.fixturenames:
            return
        needed: frozenset[Capability] = getattr(metafunc.function, "requires", frozenset())
        cases = [case for case in self.cases if needed <= declared(case).capabilities]
        wanted = [name for name in PARAMETERS if name in metafunc.fixturenames]
        if not wanted:
            metafunc.parametrize("case", cases, ids=str)
            return
        (name,) = wanted  # one derived argument per test
        runs = [
            pytest.param(case, value, id=f"{case}-{value}")
            for case in cases
            for value in PARAMETERS[name](declared(case))
        ]
        metafunc.parametrize(("case", name), runs)

    @pytest.fixture(scope="class")
    @classmethod
    def upstream(cls) -> Iterator[tuple[LiveServer, Swappable]]:
        swap = Swappable()
        with LiveServer(swap) as server:
            yield server, swap

    @pytest.fixture
    def sandbox(
        self, upstream: tuple[LiveServer, Swappable], case: ConnectorCase
    ) -> Iterator[Sandbox]:
        server, swap = upstream
        emulator = case.sandbox()
        swap.app = emulator.app
        yield Sandbox(emulator, server.url)
        emulator.faults.clear()  # nothing hangs on into the next test
        swap.app = None

    @pytest.fixture
    def claims(self, case: ConnectorCase) -> Declared:
        return declared(case)

    @pytest.fixture
    def make_gateway(self, sandbox: Sandbox, case: ConnectorCase) -> Iterator[GatewayFactory]:
        """Gateways in front of the test's sandbox; keyword arguments are backend keys."""
        started: list[Gateway] = []

        def make(**transport: object) -> Gateway:
            gateway = Gateway(case.backend, case.backend_settings(sandbox.url, **transport))
            started.append(gateway)
            return gateway

        yield make
        for gateway in started:
            gateway.close()

    @pytest.fixture
    def gateway(self, make_gateway: GatewayFactory) -> Gateway:
        return make_gateway()
