"""The contract for signing in, tokens, and reading customers: what every kind must do alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from customer_gateway.connectors.protocol import Capability
from customer_gateway.domain import ChangeKind
from customer_gateway.testing.case import ConnectorCase, Declared
from customer_gateway.testing.documents import CREDENTIALS, CUSTOMER, ME, REFRESH, SIGN_IN, UPDATE
from customer_gateway.testing.gateway import Gateway, error_codes
from customer_gateway.testing.harness import Harness, Sandbox, requires

__all__ = ["SignInContract"]

WRONG_PASSWORD = "not-the-password-0"
# A header and payload of `{"alg": "HS256"}` and `{}` with a signature nobody made.
FORGED_JWT = "eyJhbGciOiJIUzI1NiJ9.e30.AAAA"


class SignInContract(Harness):
    """Sign-in with right and wrong credentials, refresh, `me`, and reading by id."""

    def test_sign_in_returns_a_token_and_the_customer(
        self, case: ConnectorCase, gateway: Gateway
    ) -> None:
        body = gateway.query(
            SIGN_IN, {"b": case.backend, "u": case.customer[0], "p": case.customer[1]}
        )
        payload = body["data"]["signIn"]
        assert payload["userErrors"] == []
        token, customer = payload["token"], payload["customer"]
        assert customer["email"].casefold() == case.customer[0].casefold()
        assert customer["backend"] == {"name": case.backend}
        assert token["accessToken"]
        assert token["tokenType"] == "Bearer"
        assert datetime.fromisoformat(token["expiresAt"]) > datetime.now(UTC)

    def test_a_wrong_password_is_invalid_credentials_without_a_token(
        self, case: ConnectorCase, gateway: Gateway
    ) -> None:
        body = gateway.query(
            SIGN_IN, {"b": case.backend, "u": case.customer[0], "p": WRONG_PASSWORD}
        )
        payload = body["data"]["signIn"]
        assert payload["token"] is None
        assert payload["customer"] is None
        assert [e["code"] for e in payload["userErrors"]] == ["INVALID_CREDENTIALS"]
        assert WRONG_PASSWORD not in str(body)

    @requires(Capability.REFRESH_TOKEN)
    def test_refresh_returns_a_working_new_access_token(
        self, case: ConnectorCase, sandbox: Sandbox, gateway: Gateway
    ) -> None:
        signed = gateway.sign_in(case.customer)
        sandbox.emulator.clock.advance(5)  # a token signed a second later differs
        body = gateway.query(REFRESH, {"b": case.backend, "t": signed.refresh_token})
        payload = body["data"]["refreshToken"]
        assert payload["userErrors"] == []
        assert payload["customer"]["email"].casefold() == case.customer[0].casefold()
        fresh = payload["token"]["accessToken"]
        assert fresh != signed.token
        me = gateway.query(ME, {"b": case.backend}, token=fresh)["data"]["me"]
        assert me["id"] == signed.id

    @requires(Capability.REFRESH_TOKEN)
    @pytest.mark.parametrize("refresh_token", ["garbage", None], ids=["garbage", "missing"])
    def test_a_bad_or_missing_refresh_token_is_invalid_token(
        self, case: ConnectorCase, gateway: Gateway, refresh_token: str | None
    ) -> None:
        body = gateway.query(REFRESH, {"b": case.backend, "t": refresh_token})
        payload = body["data"]["refreshToken"]
        assert payload["token"] is None
        assert payload["userErrors"] == [{"field": ["refreshToken"], "code": "INVALID_TOKEN"}]

    def test_me_is_the_tokens_customer(self, case: ConnectorCase, gateway: Gateway) -> None:
        signed = gateway.sign_in(case.other_customer)
        me = gateway.me(signed)
        assert me["email"].casefold() == case.other_customer[0].casefold()
        assert (me["id"], me["nativeId"]) == (signed.id, signed.native_id)
        assert me["pendingEmailChange"] is False
        assert me["pendingPhoneNumberChange"] is False

    @pytest.mark.parametrize(
        "token", [None, "not-a-token", FORGED_JWT], ids=["missing", "garbage", "forged"]
    )
    def test_me_without_a_valid_token_is_unauthenticated(
        self, case: ConnectorCase, sandbox: Sandbox, gateway: Gateway, token: str | None
    ) -> None:
        body = gateway.query(ME, {"b": case.backend}, token=token)
        assert error_codes(body) == ["UNAUTHENTICATED"]
        assert body["data"] is None
        if token is None:
            assert sandbox.emulator.journal.count() == 0

    def test_an_expired_token_is_unauthenticated(
        self, case: ConnectorCase, sandbox: Sandbox, gateway: Gateway
    ) -> None:
        if case.token_lifetime_s is None:
            pytest.skip("the case does not say how long its tokens live")
        signed = gateway.sign_in(case.customer)
        sandbox.emulator.clock.advance(case.token_lifetime_s + 60)
        body = gateway.query(ME, {"b": case.backend}, token=signed.token)
        assert error_codes(body) == ["UNAUTHENTICATED"]

    def test_a_customer_reads_itself_by_id(self, case: ConnectorCase, gateway: Gateway) -> None:
        signed = gateway.sign_in(case.customer)
        body = gateway.query(CUSTOMER, {"id": signed.id}, token=signed.token)
        assert body["data"]["customer"] == {
            "email": signed.customer["email"],
            "nativeId": signed.native_id,
        }

    def test_another_customers_id_is_forbidden_without_asking_about_them(
        self, case: ConnectorCase, claims: Declared, sandbox: Sandbox, gateway: Gateway
    ) -> None:
        me = gateway.sign_in(case.customer)
        other = gateway.sign_in(case.other_customer)
        journal = sandbox.emulator.journal
        journal.clear()
        read = gateway.query(CUSTOMER, {"id": other.id}, token=me.token)
        assert error_codes(read) == ["FORBIDDEN"]
        assert read["data"] == {"customer": None}
        if Capability.UPDATE_CUSTOMER in claims.capabilities:
            write = gateway.query(
                UPDATE, {"id": other.id, "input": {"firstName": "Mallory"}}, token=me.token
            )
            assert error_codes(write) == ["FORBIDDEN"]
        if Capability.CHANGE_EMAIL in claims.capabilities:
            request = CREDENTIALS[ChangeKind.EMAIL].request_document
            variables = {"id": other.id, "value": "mallory@example.com"}
            change = gateway.query(request, variables, token=me.token)
            assert error_codes(change) == ["FORBIDDEN"]
        assert all(other.native_id not in e.path for e in journal.entries)
        assert all(e.method == "GET" for e in journal.entries)
        again = gateway.sign_in(case.other_customer)
        assert again.customer["firstName"] == other.customer["firstName"]
