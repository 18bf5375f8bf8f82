"""The contract for what a kind lacks and what goes wrong: refusals, upstream faults, hostile ids.

An operation a kind does not declare is UNSUPPORTED; an upstream failure, rehearsed with the
sandbox's fault plan, is one of the documented codes and a failed write is never retried or
half-applied; an id that is not of the kind's customer id shape is refused before any call.
Faults are put on the sandbox's GETs for reads, and on the case's `write_methods` for writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from customer_gateway.connectors.protocol import (
    Capability,
    Connector,
    CustomerCredentials,
    ServiceCredentials,
)
from customer_gateway.connectors.registry import build_connector, load_connector_kinds
from customer_gateway.domain import ChangeKind, CustomerUpdate, GatewayError, encode_customer_id
from customer_gateway.testing.case import ConnectorCase, Declared
from customer_gateway.testing.documents import CUSTOMER, ME, REFUSALS, UPDATE
from customer_gateway.testing.gateway import Gateway, error_codes
from customer_gateway.testing.harness import GatewayFactory, Harness, Sandbox, requires

__all__ = ["FAULTS", "HOSTILE_IDS", "FailureContract"]

# Fault -> (its options in the sandbox's fault plan, the code a caller sees).
FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "status500": ({"kind": "status", "status": 500}, "BACKEND_UNAVAILABLE"),
    "status503": ({"kind": "status", "status": 503}, "BACKEND_UNAVAILABLE"),
    "hang": ({"kind": "hang"}, "BACKEND_UNAVAILABLE"),
    "malformed": ({"kind": "malformed"}, "BACKEND_ERROR"),
    "html": ({"kind": "html"}, "BACKEND_ERROR"),
    "drop": ({"kind": "drop"}, "BACKEND_UNAVAILABLE"),
    "apply_then_drop": ({"kind": "apply_then_drop"}, "BACKEND_UNAVAILABLE"),
}
# A fault that means something for a read only: the vendor refusing the customer's token.
READ_FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "status401": ({"kind": "status", "status": 401}, "UNAUTHENTICATED"),
}
# One attempt and no breaker in the way; a short read timeout only where a fault hangs, so that a
# busy machine cannot turn a slow answer into a timeout anywhere else.
FAST = {"max_attempts": 1, "circuit_failures": 1000}
HANGS = {"timeout_s": 2}

# Ids as attackers sent them: path segments, queries, line breaks, look-alike digits, huge ones.
HOSTILE_IDS = (
    "check?emailOrPhone=ada.lovelace@example.com&x=",
    "x/../../admin/customer?perPage=100&",
    "nobody/../../../customer/00000000-0000-4000-8000-000000000000/remove-manually-level?",
    "1/action",
    "../",
    "..",
    ".",
    "%2F",
    "a%2Fb",
    "?",
    "#frag",
    "a\r\nX-Injected: 1",
    "a\nINFO customer_gateway: forged line",
    "\x00",
    "²",
    "١٢٣",  # Arabic-Indic digits: isdigit() says yes
    "12345678901234567890",  # digits, beyond int32
    "01002",  # a leading zero: Kibo takes it as 1002, the gateway as another customer
    "0FF757DD-9B8A-4750-89AD-03FF531AE923",  # upper case: one customer, two spellings
    "x" * 4096,
    "0ff757dd-9b8a-4750-89ad-03ff531ae923/status",
    " 0ff757dd-9b8a-4750-89ad-03ff531ae923",
)
# What a connector may answer a hostile id with, having called nobody; UNAUTHENTICATED only
# where it was given a customer's credentials.
REFUSED = ("BAD_USER_INPUT", "UNSUPPORTED", "UNAUTHENTICATED")
OWN = ("update_own",)


def _operations(connector: Connector) -> dict[str, Callable[[str], Awaitable[object]]]:
    """Every connector operation that puts a customer id into a path, fed the hostile id.

    The ones with a customer's credentials get a token that is not the vendor's: a connector
    may refuse it (UNAUTHENTICATED) before it looks at the id, as long as it calls nobody.
    """
    service = ServiceCredentials()
    customer = CustomerCredentials("token")
    update = CustomerUpdate(first_name="Eve")
    return {
        "get_customer": lambda v: connector.get_customer(v, service),
        "update_customer": lambda v: connector.update_customer(v, update, service),
        "update_own": lambda v: connector.update_customer(v, update, customer),
        "change_email": lambda v: connector.change_credential(
            v, ChangeKind.EMAIL, "eve@example.com", service
        ),
        "change_phone_number": lambda v: connector.change_credential(
            v, ChangeKind.PHONE_NUMBER, "+14155550142", service
        ),
        "set_active": lambda v: connector.set_active(v, False),
        "assign_level": lambda v: connector.assign_level(v, "1"),
        "loyalty_status": lambda v: connector.loyalty_status(v),
    }


class FailureContract(Harness):
    """Capability refusals, upstream failures mapped to documented codes, and hostile ids."""

    def test_the_gateway_lists_what_the_kind_declares(
        self, case: ConnectorCase, claims: Declared, gateway: Gateway
    ) -> None:
        backends = gateway.query("{ backends { name capabilities } }")["data"]["backends"]
        assert backends == [
            {"name": case.backend, "capabilities": sorted(c.value for c in claims.capabilities)}
        ]

    def test_an_undeclared_capability_is_unsupported(
        self, case: ConnectorCase, sandbox: Sandbox, gateway: Gateway, refused: Capability
    ) -> None:
        document, variable, asker = REFUSALS[refused]
        signed = gateway.sign_in(case.customer)
        sandbox.emulator.journal.clear()
        variables = {"id": signed.id} if variable == "id" else {"b": case.backend}
        body = gateway.query(
            document,
            variables,
            token=signed.token if asker == "customer" else None,
            admin=asker == "admin",
        )
        assert error_codes(body) == ["UNSUPPORTED"]
        if asker != "customer":  # nobody to identify: nothing to ask the vendor
            assert sandbox.emulator.journal.count() == 0

    @pytest.mark.parametrize("fault", [*FAULTS, *READ_FAULTS])
    def test_a_failed_read_is_a_documented_code(
        self, case: ConnectorCase, sandbox: Sandbox, make_gateway: GatewayFactory, fault: str
    ) -> None:
        options, expected = {**FAULTS, **READ_FAULTS}[fault]
        gateway = make_gateway(**FAST, **(HANGS if fault == "hang" else {}))
        signed = gateway.sign_in(case.customer)
        sandbox.emulator.faults.add(path_contains="", method="GET", times=5, **options)
        body = gateway.query(ME, {"b": case.backend}, token=signed.token)
        assert error_codes(body) == [expected], body

    @requires(Capability.CUSTOMER_BY_ID)
    def test_a_customer_the_vendor_does_not_know_is_not_found(
        self, case: ConnectorCase, sandbox: Sandbox, gateway: Gateway
    ) -> None:
        signed = gateway.sign_in(case.customer)
        sandbox.emulator.faults.add("status", "", method="GET", times=5, status=404)
        body = gateway.query(CUSTOMER, {"id": signed.id}, admin=True)
        assert error_codes(body) == ["NOT_FOUND"], body

    @requires(Capability.UPDATE_CUSTOMER)
    @pytest.mark.parametrize("fault", list(FAULTS))
    def test_a_failed_write_is_a_documented_code_never_retried_nor_half_applied(
        self, case: ConnectorCase, sandbox: Sandbox, make_gateway: GatewayFactory, fault: str
    ) -> None:
        options, expected = FAULTS[fault]
        gateway = make_gateway(**FAST, **(HANGS if fault == "hang" else {}))
        signed = gateway.sign_in(case.customer)
        before = signed.customer["firstName"]
        journal = sandbox.emulator.journal
        journal.clear()
        for method in case.write_methods:
            sandbox.emulator.faults.add(path_contains="", method=method, times=1, **options)
        body = gateway.query(
            UPDATE, {"id": signed.id, "input": {"firstName": "Changed"}}, token=signed.token
        )
        assert error_codes(body) == [expected], body
        assert case.writes(journal) == 1  # never retried
        sandbox.emulator.faults.clear()
        after = gateway.me(signed)
        if fault == "apply_then_drop":  # applied although the caller heard "unavailable"
            assert after["firstName"] == "Changed"
        else:  # refused or failed before applying: the old value, never a third
            assert after["firstName"] == before

    def test_a_hostile_id_is_bad_user_input_without_an_upstream_call(
        self, case: ConnectorCase, claims: Declared, sandbox: Sandbox, gateway: Gateway
    ) -> None:
        admin_operations = ["query($id: ID!) { customer(id: $id) { email } }"]
        if Capability.ACTIVATION in claims.capabilities:
            admin_operations += [
                f"mutation($id: ID!) {{ {name}(id: $id) {{ customer {{ id }} }} }}"
                for name in ("deactivateCustomer", "activateCustomer")
            ]
        for native_id in (v for v in HOSTILE_IDS if not claims.id_shape.matches(v)):
            for document in admin_operations:
                global_id = encode_customer_id(case.backend, native_id)
                body = gateway.query(document, {"id": global_id}, admin=True)
                assert error_codes(body) == ["BAD_USER_INPUT"], (native_id, document)
        assert [(e.method, e.path) for e in sandbox.emulator.journal.entries] == []

    def test_connector_operations_refuse_hostile_ids_before_any_call(
        self, case: ConnectorCase, claims: Declared, sandbox: Sandbox
    ) -> None:
        async def attack() -> dict[tuple[str, str], str]:
            raw = case.backend_settings(sandbox.url)
            connector = build_connector(case.backend, raw, load_connector_kinds())
            outcomes: dict[tuple[str, str], str] = {}
            try:
                for name, operation in _operations(connector).items():
                    for native_id in (v for v in HOSTILE_IDS if not claims.id_shape.matches(v)):
                        try:
                            await operation(native_id)
                            outcomes[(name, native_id)] = "answered"
                        except GatewayError as error:  # anything else is a bug: it fails the test
                            outcomes[(name, native_id)] = error.code
            finally:
                await connector.aclose()
            return outcomes

        outcomes = asyncio.run(attack())
        wrong = {
            key: outcome
            for key, outcome in outcomes.items()
            if outcome not in REFUSED or (outcome == "UNAUTHENTICATED" and key[0] not in OWN)
        }
        assert wrong == {}
        assert [(e.method, e.path) for e in sandbox.emulator.journal.entries] == []
