"""The contract for changing a customer: profile updates, and each declared credential flow.

A kind declares, per credential, who confirms a change (`change_flow`): nobody (DIRECT), the
vendor's own code (BACKEND_OTP, read from the sandbox's outbox) or the gateway's (GATEWAY_OTP,
read from the gateway's). Whatever the flow, a change is applied only with the right code, the
fifth wrong code cancels it, and input that cannot be right never reaches the vendor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from customer_gateway.connectors.protocol import Capability, ChangeFlow
from customer_gateway.domain import ChangeKind
from customer_gateway.sandbox.journal import Journal
from customer_gateway.testing.case import ConnectorCase, Declared, e164
from customer_gateway.testing.documents import CREDENTIALS, UPDATE, UPDATE_INPUT
from customer_gateway.testing.gateway import Gateway, SignedIn
from customer_gateway.testing.harness import Change, Harness, Sandbox, requires

__all__ = ["ChangeContract"]

WRONG_CODE_ERROR = {"field": ["code"], "message": "The code is not correct.", "code": "OTP_INVALID"}


def new_value(case: ConnectorCase, kind: ChangeKind) -> tuple[str, str]:
    """What the suite sends for a change, and what the customer then has."""
    if kind is ChangeKind.EMAIL:
        return case.new_email, case.new_email
    return case.new_phone_number, e164(case.new_phone_number)


@dataclass(frozen=True)
class Attempt:
    """A credential change under test: the signed-in customer, what is sent, what it becomes."""

    change: Change
    signed: SignedIn
    sent: str
    expected: str

    @property
    def old(self) -> str | None:
        value: str | None = self.signed.customer[self.change.credential.field]
        return value


def begin(case: ConnectorCase, gateway: Gateway, change: Change) -> Attempt:
    """The case's customer signed in, about to change the credential to the case's new value."""
    sent, expected = new_value(case, change.kind)
    return Attempt(change, gateway.sign_in(case.customer), sent, expected)


def same(value: str | None, expected: str) -> bool:
    return value is not None and value.casefold() == expected.casefold()


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def calls_but_reads(journal: Journal) -> int:
    return sum(1 for entry in journal.entries if entry.method != "GET")


def _step(
    gateway: Gateway, signed: SignedIn, document: str, field: str, variables: dict[str, str]
) -> dict[str, Any]:
    body = gateway.query(document, {"id": signed.id, **variables}, token=signed.token)
    payload: dict[str, Any] = body["data"][field]
    return payload


def request_change(
    gateway: Gateway, signed: SignedIn, kind: ChangeKind, value: str
) -> dict[str, Any]:
    credential = CREDENTIALS[kind]
    return _step(gateway, signed, credential.request_document, credential.request, {"value": value})


def confirm_change(
    gateway: Gateway, signed: SignedIn, kind: ChangeKind, code: str
) -> dict[str, Any]:
    credential = CREDENTIALS[kind]
    return _step(gateway, signed, credential.confirm_document, credential.confirm, {"code": code})


def sent_code(change: Change, sandbox: Sandbox, gateway: Gateway, expected: str) -> str:
    """The code that went to `expected`: from the gateway, or from the vendor's sandbox."""
    credential = change.credential
    if change.flow is ChangeFlow.GATEWAY_OTP:
        sent = gateway.sent[-1]
        assert (sent.channel, sent.purpose) == (credential.channel, credential.purpose)
        assert same(sent.to, expected)
        assert sent.code is not None
        assert sent.code.isdigit()
        assert len(sent.code) == 6
        return sent.code
    message = sandbox.emulator.outbox.latest()
    assert message is not None, "the sandbox sent no code"
    assert message.channel == credential.channel
    assert same(message.to, expected)
    return message.code


class ChangeContract(Harness):
    """updateCustomer, and requesting and confirming email and phone-number changes."""

    # --- profile updates ---------------------------------------------------------------

    @requires(Capability.UPDATE_CUSTOMER)
    def test_an_update_changes_only_the_sent_field(
        self, case: ConnectorCase, claims: Declared, gateway: Gateway
    ) -> None:
        writable = [name for name in ("last_name", "first_name") if name in claims.update_fields]
        if not writable:
            pytest.skip("the kind writes neither first nor last name")
        field, value = UPDATE_INPUT[writable[0]]
        other = "firstName" if field == "lastName" else "lastName"
        signed = gateway.sign_in(case.customer)
        body = gateway.query(UPDATE, {"id": signed.id, "input": {field: value}}, token=signed.token)
        payload = body["data"]["updateCustomer"]
        assert payload["userErrors"] == []
        assert payload["customer"] == {field: value, other: signed.customer[other]}
        me = gateway.me(signed)
        assert (me[field], me[other]) == (value, signed.customer[other])

    def test_a_field_the_kind_cannot_write_is_refused_before_any_call(
        self,
        case: ConnectorCase,
        claims: Declared,
        sandbox: Sandbox,
        gateway: Gateway,
        unwritable: str,
    ) -> None:
        field, value = UPDATE_INPUT[unwritable]
        update: dict[str, object] = {field: value}
        if "first_name" in claims.update_fields:  # a writable field does not carry the rest
            update["firstName"] = "A"
        signed = gateway.sign_in(case.customer)
        sandbox.emulator.journal.clear()
        body = gateway.query(UPDATE, {"id": signed.id, "input": update}, token=signed.token)
        payload = body["data"]["updateCustomer"]
        assert payload["customer"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
            (["input", field], "UNSUPPORTED")
        ]
        assert sandbox.emulator.journal.count() == 0

    # --- credential changes ------------------------------------------------------------

    def test_a_direct_change_applies_at_once(
        self, case: ConnectorCase, sandbox: Sandbox, gateway: Gateway, direct: Change
    ) -> None:
        attempt, field = begin(case, gateway, direct), direct.credential.field
        payload = request_change(gateway, attempt.signed, direct.kind, attempt.sent)
        assert payload["userErrors"] == []
        assert payload["pending"] is False
        assert same(payload["customer"][field], attempt.expected)
        assert payload["customer"][direct.credential.pending] is False
        assert sandbox.emulator.outbox.latest() is None
        assert gateway.sent == []
        assert same(gateway.me(attempt.signed)[field], attempt.expected)

    def test_a_confirmed_change_waits_for_the_right_code(
        self, case: ConnectorCase, sandbox: Sandbox, gateway: Gateway, confirmed: Change
    ) -> None:
        attempt, credential = begin(case, gateway, confirmed), confirmed.credential
        kind, signed, old = confirmed.kind, attempt.signed, attempt.old
        by_gateway = confirmed.flow is ChangeFlow.GATEWAY_OTP
        journal = sandbox.emulator.journal
        journal.clear()

        requested = request_change(gateway, signed, kind, attempt.sent)
        assert requested["userErrors"] == []
        assert requested["pending"] is True
        expires = datetime.fromisoformat(requested["expiresAt"])
        assert expires > datetime.now(UTC) + timedelta(minutes=9)
        assert requested["customer"][credential.field] == old
        assert requested["customer"][credential.pending] is True
        code = sent_code(confirmed, sandbox, gateway, attempt.expected)

        rejected = confirm_change(gateway, signed, kind, wrong(code))
        assert rejected["customer"] is None
        assert rejected["userErrors"] == [WRONG_CODE_ERROR]
        me = gateway.me(signed)
        assert me[credential.field] == old
        assert me[credential.pending] is True
        if by_gateway:
            assert case.writes(journal) == 0

        done = confirm_change(gateway, signed, kind, code)
        assert done["userErrors"] == []
        assert same(done["customer"][credential.field], attempt.expected)
        assert done["customer"][credential.pending] is False
        assert code not in str(done)
        me = gateway.me(signed)
        assert same(me[credential.field], attempt.expected)
        assert me[credential.pending] is False
        if by_gateway:
            assert case.writes(journal) == 1
            notice = gateway.sent[-1]
            assert (notice.channel, notice.to, notice.code, notice.purpose) == (
                credential.channel,
                old,
                None,
                "change_notice",
            )
            again = confirm_change(gateway, signed, kind, code)  # done: the same answer
            assert again == done
            assert case.writes(journal) == 1
            late = confirm_change(gateway, signed, kind, wrong(code))
            assert [e["code"] for e in late["userErrors"]] == ["NO_PENDING_CHANGE"]
        if kind is ChangeKind.EMAIL:  # the new address is the customer's sign-in from now on
            gateway.sign_in((done["customer"]["email"], case.customer[1]))

    def test_the_fifth_wrong_code_cancels_the_change(
        self, case: ConnectorCase, sandbox: Sandbox, gateway: Gateway, confirmed: Change
    ) -> None:
        attempt, journal = begin(case, gateway, confirmed), sandbox.emulator.journal
        kind, signed = confirmed.kind, attempt.signed
        request_change(gateway, signed, kind, attempt.sent)
        code = sent_code(confirmed, sandbox, gateway, attempt.expected)
        journal.clear()
        outcomes = [
            confirm_change(gateway, signed, kind, wrong(code))["userErrors"][0]["code"]
            for _ in range(5)
        ]
        assert outcomes == ["OTP_INVALID"] * 4 + ["OTP_ATTEMPTS_EXCEEDED"]
        late = confirm_change(gateway, signed, kind, code)
        assert [e["code"] for e in late["userErrors"]] == ["NO_PENDING_CHANGE"]
        # Each wrong code went to the vendor's check once, or to none when the gateway checks.
        by_vendor = confirmed.flow is ChangeFlow.BACKEND_OTP
        assert calls_but_reads(journal) == (5 if by_vendor else 0)
        me = gateway.me(signed)
        assert me[confirmed.credential.field] == attempt.old
        assert me[confirmed.credential.pending] is False

    def test_confirming_with_nothing_pending_is_no_pending_change(
        self, case: ConnectorCase, sandbox: Sandbox, gateway: Gateway, confirmed: Change
    ) -> None:
        signed = gateway.sign_in(case.customer)
        sandbox.emulator.journal.clear()
        payload = confirm_change(gateway, signed, confirmed.kind, "123456")
        assert [e["code"] for e in payload["userErrors"]] == ["NO_PENDING_CHANGE"]
        assert calls_but_reads(sandbox.emulator.journal) == 0

    def test_a_malformed_code_is_a_wrong_code_without_an_upstream_call(
        self, case: ConnectorCase, sandbox: Sandbox, gateway: Gateway, confirmed: Change
    ) -> None:
        attempt = begin(case, gateway, confirmed)
        request_change(gateway, attempt.signed, confirmed.kind, attempt.sent)
        sandbox.emulator.journal.clear()
        payload = confirm_change(gateway, attempt.signed, confirmed.kind, "12ab")
        assert [e["code"] for e in payload["userErrors"]] == ["OTP_INVALID"]
        assert calls_but_reads(sandbox.emulator.journal) == 0

    def test_an_invalid_value_is_refused_before_any_call(
        self, case: ConnectorCase, sandbox: Sandbox, gateway: Gateway, change: Change
    ) -> None:
        signed = gateway.sign_in(case.customer)
        sandbox.emulator.journal.clear()
        payload = request_change(gateway, signed, change.kind, change.credential.invalid)
        assert payload["pending"] is False
        assert payload["customer"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
            ([change.credential.field], "INVALID")
        ]
        assert sandbox.emulator.journal.count() == 0
