"""The Menu emulator behaves like Menu: headers, tokens in minutes, auth types, key sets."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from customer_gateway.sandbox.menu import (
    BIRTHDAY_DEMOGRAPHIC_ID,
    DEMO_APPLICATION_KEY,
    DEMO_CUSTOMERS,
    MenuSandbox,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "menu"
ADA = DEMO_CUSTOMERS[0]


def headers(token: str | None = None, **extra: str) -> dict[str, str]:
    sent = {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "API-VERSION": "4.38.0",
        "Application": DEMO_APPLICATION_KEY,
        "X-Request-ID": str(uuid.uuid4()),
        "X-QB-Enabled": "false",
    }
    if token:
        sent["Authorization"] = f"Bearer {token}"
    sent.update(extra)
    return sent


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def fixture_keys(name: str) -> set[str]:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    return set(data["data"]["customer_account"])


@pytest.fixture
def sandbox() -> MenuSandbox:
    return MenuSandbox()


@pytest.fixture
def client(sandbox: MenuSandbox) -> TestClient:
    return TestClient(sandbox.app)


def login(
    client: TestClient, email: str = ADA.email, password: str = ADA.password
) -> dict[str, Any]:
    response = client.post(
        "/api/customers/login", json={"email": email, "password": password}, headers=headers()
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("missing", ["API-VERSION", "Application", "X-Request-ID", "X-QB-Enabled"])
def test_required_headers(client: TestClient, missing: str) -> None:
    sent = headers()
    del sent[missing]
    response = client.post(
        "/api/customers/login", json={"email": ADA.email, "password": ADA.password}, headers=sent
    )
    assert response.status_code == 400
    assert response.json()["status"] == "BAD_REQUEST" and missing in response.json()["message"]


def test_bad_header_values(client: TestClient) -> None:
    body = {"email": ADA.email, "password": ADA.password}
    assert (
        client.post(
            "/api/customers/login", json=body, headers=headers(Accept="text/html")
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/api/customers/login", json=body, headers=headers(**{"X-Request-ID": "nope"})
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/api/customers/login", json=body, headers=headers(Application="f" * 32)
        ).status_code
        == 401
    )
    form = headers(**{"Content-Type": "application/x-www-form-urlencoded"})
    assert client.post("/api/customers/login", content=b"email=a", headers=form).status_code == 400


def test_login_token_is_a_menu_jwt_with_minutes(client: TestClient, sandbox: MenuSandbox) -> None:
    data = login(client)
    token = data["token"]
    assert (token["ttl"], token["refresh_ttl"]) == (60, 2628000)
    c = claims(token["value"])
    assert c["exp"] - c["iat"] == 3600
    assert c["setRefreshTTL"] == 2628000
    assert c["sub"].isdigit() and c["sub"] != data["customer_account"]["id"]
    assert len(c["jti"]) == 16 and len(c["prv"]) == 40
    assert c["iss"].endswith("/api/customers/login")
    assert set(data["customer_account"]) == fixture_keys("customers_refresh_200")


def test_wrong_credentials(client: TestClient) -> None:
    response = client.post(
        "/api/customers/login", json={"email": ADA.email, "password": "x"}, headers=headers()
    )
    assert response.status_code == 401
    assert response.json() == {
        "status": "UNAUTHORIZED",
        "code": 401,
        "message": "Invalid credentials.",
        "errors": {},
    }


def test_refresh_issues_a_day_token_and_blacklists_the_old(
    client: TestClient, sandbox: MenuSandbox
) -> None:
    old = login(client)["token"]["value"]
    sandbox.clock.advance(2 * 3600)  # expired, but still within refresh_ttl
    response = client.get("/api/customers/refresh", headers=headers(old))
    assert response.status_code == 200
    new = response.json()["data"]["token"]
    assert new["ttl"] == 1440 and claims(new["value"])["exp"] - claims(new["value"])["iat"] == 86400
    assert "setRefreshTTL" not in claims(new["value"])
    assert client.get("/api/customers/refresh", headers=headers(old)).status_code == 401
    assert client.get("/api/customers/me", headers=headers(new["value"])).status_code == 200


def test_expired_token_is_refused(client: TestClient, sandbox: MenuSandbox) -> None:
    token = login(client)["token"]["value"]
    sandbox.clock.advance(3601)
    assert client.get("/api/customers/me", headers=headers(token)).status_code == 401


def test_me_and_account_reads_are_own_only(client: TestClient, sandbox: MenuSandbox) -> None:
    data = login(client)
    token, own = data["token"]["value"], data["customer_account"]["id"]
    me = client.get("/api/customers/me", headers=headers(token)).json()["data"]["customer_account"]
    assert me["id"] == own and set(me) == fixture_keys("customer_account_update_200")
    other = login(client, DEMO_CUSTOMERS[1].email, DEMO_CUSTOMERS[1].password)["customer_account"][
        "id"
    ]
    assert client.get(f"/api/customer-accounts/{other}", headers=headers(token)).status_code == 403
    assert (
        client.get(f"/api/customer-accounts/{uuid.uuid4()}", headers=headers(token)).status_code
        == 404
    )


def test_update_subset_and_string_opt_ins(client: TestClient, sandbox: MenuSandbox) -> None:
    data = login(client)
    token, own = data["token"]["value"], data["customer_account"]["id"]
    response = client.put(
        f"/api/customer-accounts/{own}",
        json={"first_name": "Augusta", "optin_status_email": "2"},
        headers=headers(token),
    )
    account = response.json()["data"]["customer_account"]
    assert (account["first_name"], account["last_name"], account["optin_status_email"]) == (
        "Augusta",
        "Lovelace",
        2,
    )
    assert set(account) == fixture_keys("customer_account_update_200")


def test_email_brand_email_change_waits_for_the_code(
    client: TestClient, sandbox: MenuSandbox
) -> None:
    data = login(client)
    token, own = data["token"]["value"], data["customer_account"]["id"]
    account = client.put(
        f"/api/customer-accounts/{own}", json={"email": "ada@example.org"}, headers=headers(token)
    ).json()["data"]["customer_account"]
    assert account["email"] == ADA.email and account["has_pending_email_change"] is True
    message = sandbox.outbox.latest()
    assert message is not None and (message.channel, message.to) == ("email", "ada@example.org")
    assert message.code not in json.dumps(account)
    wrong = client.put(
        f"/api/customer-accounts/{own}/verify-email-update",
        json={"confirmation_code": "abc"},
        headers=headers(token),
    )
    assert wrong.status_code == 422 and "confirmation_code" in wrong.json()["errors"]
    ok = client.put(
        f"/api/customer-accounts/{own}/verify-email-update",
        json={"confirmation_code": int(message.code)},
        headers=headers(token),
    )
    assert ok.status_code == 200
    assert ok.json()["data"]["customer_account"]["email"] == "ada@example.org"
    assert sandbox.account(own)["has_pending_email_change"] is False


def test_a_new_request_replaces_the_code(client: TestClient, sandbox: MenuSandbox) -> None:
    data = login(client)
    token, own = data["token"]["value"], data["customer_account"]["id"]
    client.put(
        f"/api/customer-accounts/{own}", json={"email": "one@example.org"}, headers=headers(token)
    )
    first = sandbox.outbox.latest()
    client.put(
        f"/api/customer-accounts/{own}", json={"email": "two@example.org"}, headers=headers(token)
    )
    second = sandbox.outbox.latest()
    assert first is not None and second is not None
    if first.code != second.code:
        stale = client.put(
            f"/api/customer-accounts/{own}/verify-email-update",
            json={"confirmation_code": first.code},
            headers=headers(token),
        )
        assert stale.status_code == 422
    client.put(
        f"/api/customer-accounts/{own}/verify-email-update",
        json={"confirmation_code": second.code},
        headers=headers(token),
    )
    assert sandbox.account(own)["email"] == "two@example.org"


def test_phone_changes_directly_in_an_email_brand_and_uniqueness(
    client: TestClient, sandbox: MenuSandbox
) -> None:
    data = login(client)
    token, own = data["token"]["value"], data["customer_account"]["id"]
    ok = client.put(
        f"/api/customer-accounts/{own}",
        json={"phone_number": "+14155550150"},
        headers=headers(token),
    )
    assert ok.json()["data"]["customer_account"]["phone_number"] == "+14155550150"
    cleared = client.put(
        f"/api/customer-accounts/{own}", json={"phone_number": ""}, headers=headers(token)
    )
    assert cleared.json()["data"]["customer_account"]["phone_number"] == ""
    taken = client.put(
        f"/api/customer-accounts/{own}",
        json={"phone_number": DEMO_CUSTOMERS[1].phone_number},
        headers=headers(token),
    )
    assert taken.status_code == 422 and taken.json()["errors"]["phone_number"] == [
        "The phone number has already been taken."
    ]
    bad = client.put(
        f"/api/customer-accounts/{own}", json={"email": "not-an-email"}, headers=headers(token)
    )
    assert bad.status_code == 422 and "email" in bad.json()["errors"]


def test_phone_brand_mirrors_the_rule() -> None:
    sandbox = MenuSandbox(auth_type="phone")
    client = TestClient(sandbox.app)
    response = client.post(
        "/api/customers/login",
        json={"phone_number": ADA.phone_number, "password": ADA.password},
        headers=headers(),
    )
    data = response.json()["data"]
    token, own = data["token"]["value"], data["customer_account"]["id"]
    email = client.put(
        f"/api/customer-accounts/{own}", json={"email": "ada@example.org"}, headers=headers(token)
    )
    assert email.json()["data"]["customer_account"]["email"] == "ada@example.org"
    phone = client.put(
        f"/api/customer-accounts/{own}",
        json={"phone_number": "+14155550177"},
        headers=headers(token),
    ).json()["data"]["customer_account"]
    assert (
        phone["phone_number"] == ADA.phone_number
        and phone["has_pending_phone_number_change"] is True
    )
    sms = sandbox.outbox.latest()
    assert sms is not None and sms.channel == "sms"
    done = client.post(
        f"/api/customers/{own}/verify-phone-number-update",
        json={"confirmation_code": sms.code},
        headers=headers(token),
    )
    assert done.json()["data"]["customer_account"]["phone_number"] == "+14155550177"


def test_codes_expire_and_attempts_can_be_limited() -> None:
    sandbox = MenuSandbox(otp_max_attempts=2, otp_ttl_s=60)
    client = TestClient(sandbox.app)
    data = login(client)
    token, own = data["token"]["value"], data["customer_account"]["id"]
    verify = f"/api/customer-accounts/{own}/verify-email-update"
    client.put(
        f"/api/customer-accounts/{own}", json={"email": "x@example.org"}, headers=headers(token)
    )
    for _ in range(2):
        client.put(
            verify,
            json={
                "confirmation_code": "000000"
                if sandbox.outbox.latest().code != "000000"
                else "111111"
            },
            headers=headers(token),
        )  # type: ignore[union-attr]
    gone = client.put(
        verify, json={"confirmation_code": sandbox.outbox.latest().code}, headers=headers(token)
    )  # type: ignore[union-attr]
    assert gone.json()["errors"]["confirmation_code"] == ["There is no pending change."]
    client.put(
        f"/api/customer-accounts/{own}", json={"email": "y@example.org"}, headers=headers(token)
    )
    sandbox.clock.advance(61)
    late = client.put(
        verify, json={"confirmation_code": sandbox.outbox.latest().code}, headers=headers(token)
    )  # type: ignore[union-attr]
    assert late.json()["errors"]["confirmation_code"] == ["The confirmation code has expired."]
    assert sandbox.account(own)["email"] == ADA.email


def test_birthday_cannot_change_once_set(client: TestClient) -> None:
    data = login(client)
    token, own = data["token"]["value"], data["customer_account"]["id"]
    url = f"/api/customer-accounts/{own}"
    first = client.put(
        url,
        json={"demographics": [{"demographic_id": BIRTHDAY_DEMOGRAPHIC_ID, "value": "2000-01-13"}]},
        headers=headers(token),
    )
    assert first.status_code == 200
    again = client.put(
        url,
        json={"demographics": [{"demographic_id": BIRTHDAY_DEMOGRAPHIC_ID, "value": "2001-01-13"}]},
        headers=headers(token),
    )
    assert again.status_code == 422


def test_passwordless_sign_up_and_check_email(client: TestClient, sandbox: MenuSandbox) -> None:
    exists = client.post("/api/customers/check-email", json={"email": ADA.email}, headers=headers())
    assert exists.json() == {
        "status": "OK",
        "code": 200,
        "data": {"exists": True, "is_social": False},
    }
    sent = client.post(
        "/api/customers/passwordless-request", json={"email": "new@example.org"}, headers=headers()
    )
    assert sent.json() == {"status": "OK", "code": 200}  # no data key, as documented
    code = sandbox.outbox.latest()
    assert code is not None and code.purpose == "sign_up"
    registered = client.post(
        "/api/customers/register",
        json={
            "passwordless_email": "new@example.org",
            "passwordless_code": int(code.code),
            "first_name": "N",
            "last_name": "U",
        },
        headers=headers(),
    )
    assert registered.status_code == 200 and registered.json()["data"]["token"]["ttl"] == 60


def test_journal_records_every_vendor_call(client: TestClient, sandbox: MenuSandbox) -> None:
    login(client)
    client.get("/api/customers/me", headers=headers("x"))
    assert [e.path for e in sandbox.journal.entries] == [
        "/api/customers/login",
        "/api/customers/me",
    ]
    assert sandbox.journal.entries[0].json() == {"email": ADA.email, "password": ADA.password}
    assert client.get("/_sandbox/journal").json()[1]["path"] == "/api/customers/me"
