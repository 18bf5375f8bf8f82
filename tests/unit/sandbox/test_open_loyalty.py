"""The Open Loyalty emulator behaves like Open Loyalty 4.x (backends.md section 3)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from starlette.testclient import TestClient

from customer_gateway.sandbox.open_loyalty import (
    DEMO_ADMIN_PASSWORD,
    DEMO_ADMIN_USERNAME,
    DEMO_CUSTOMERS,
    DEMO_STORE_CODE,
    OpenLoyaltySandbox,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "open_loyalty"
ADA, KATHERINE, DOROTHY = DEMO_CUSTOMERS[:3]
API = f"/api/{DEMO_STORE_CODE}"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0000$")
NOT_FOUND = {"error": {"code": 404, "message": "Not Found"}}
FORBIDDEN = {"error": {"code": 403, "message": "Forbidden"}}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def claims(token: str) -> dict[str, Any]:
    return json.loads(unb64(token.split(".")[1]))  # type: ignore[no-any-return]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def nulls(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v is None or nulls(v) for v in value.values())
    if isinstance(value, list):
        return any(nulls(v) for v in value)
    return False


@pytest.fixture
def sandbox() -> OpenLoyaltySandbox:
    return OpenLoyaltySandbox()


@pytest.fixture
def client(sandbox: OpenLoyaltySandbox) -> TestClient:
    return TestClient(sandbox.app)


@pytest.fixture
def admin(sandbox: OpenLoyaltySandbox) -> dict[str, str]:
    return bearer(sandbox.issue_admin_token())


def find(client: TestClient, admin: dict[str, str], email: str) -> str:
    found = client.get(
        f"{API}/admin/customer", params={"email": email, "strict": 1}, headers=admin
    ).json()
    assert found["total"] == 1, found
    return str(found["customers"][0]["customerId"])


def customer_login(client: TestClient, username: str, password: str, **kw: Any) -> Any:
    body = {"_username": username, "_password": password}
    return client.post(f"{API}/customer/login_check", **({"data": body} if kw else {"json": body}))


# --- seed data ------------------------------------------------------------------------------


def test_demo_customers_and_their_levels(
    client: TestClient, sandbox: OpenLoyaltySandbox, admin: dict[str, str]
) -> None:
    assert (ADA.email, ADA.phone, ADA.points, ADA.level_name) == (
        "ada.lovelace@example.com",
        "+14155550101",
        1720,
        "Gold",
    )
    assert (KATHERINE.level_name, DOROTHY.level_name, DOROTHY.points) == ("Silver", "Bronze", 180)
    assert len(DEMO_CUSTOMERS) > 10 and len({c.email for c in DEMO_CUSTOMERS}) == len(
        DEMO_CUSTOMERS
    )
    for demo in DEMO_CUSTOMERS:
        body = client.get(f"{API}/customer/{find(client, admin, demo.email)}", headers=admin).json()
        assert body["level"]["name"] == demo.level_name and "manuallyAssignedLevelId" not in body
    assert [lv["name"] for lv in sandbox.levels()] == ["Bronze", "Silver", "Gold", "Platinum"]
    assert [(lv["conditionValue"], lv["reward"]["value"]) for lv in sandbox.levels()] == [
        (0, 0.05),
        (500, 0.10),
        (1500, 0.15),
        (5000, 0.20),
    ]


def test_add_customer_with_another_level_is_a_manual_assignment(
    sandbox: OpenLoyaltySandbox,
) -> None:
    manual = sandbox.add_customer(email="VIP@example.com", points=10, level_name="Platinum")
    assert (manual["email"], manual["level"]["name"], manual["levelPercent"]) == (
        "vip@example.com",
        "Platinum",
        "20.00%",
    )
    assert manual["manuallyAssignedLevelId"] == sandbox.levels()[3]["levelId"]
    earned = sandbox.add_customer(email="earned@example.com", points=600, level_name="Silver")
    assert "manuallyAssignedLevelId" not in earned
    with pytest.raises(ValueError, match="already used"):
        sandbox.add_customer(email="vip@example.com")


# --- login, JWT, refresh --------------------------------------------------------------------


def test_admin_login_issues_a_verifiable_rs256_jwt(
    client: TestClient, sandbox: OpenLoyaltySandbox
) -> None:
    response = client.post(
        "/api/admin/login_check",
        json={"_username": DEMO_ADMIN_USERNAME, "_password": DEMO_ADMIN_PASSWORD},
    )
    body = response.json()
    assert response.status_code == 200 and set(body) == {"token", "refresh_token"}
    assert re.fullmatch(r"[0-9a-f]{128}", body["refresh_token"])
    head, payload, signature = body["token"].split(".")
    assert body["token"].startswith("eyJhbGciOiJSUzI1NiIsInR5cCI6")  # the vendor's example prefix
    assert json.loads(unb64(head)) == {"alg": "RS256", "typ": "JWT"}
    sandbox.signer.key.public_key().verify(  # raises unless it is a real RS256 signature
        unb64(signature), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    got = claims(body["token"])
    assert got["roles"] == ["ROLE_ADMIN"] and got["username"] == DEMO_ADMIN_USERNAME
    assert got["permissions"] == {} and got["superAdmin"] is True and DATE.match(got["lastLoginAt"])
    assert re.fullmatch(r"[0-9a-f-]{36}", got["id"]) and got["exp"] - got["iat"] == 86400
    form = client.post(
        "/api/admin/login_check",
        data={"_username": DEMO_ADMIN_USERNAME, "_password": DEMO_ADMIN_PASSWORD},
    )
    assert form.status_code == 200
    bad = client.post("/api/admin/login_check", json={"_username": "admin", "_password": "open"})
    assert (bad.status_code, bad.json()) == (401, {"code": 401, "message": "Bad credentials"})


def test_customer_login_by_email_phone_or_card(
    client: TestClient, sandbox: OpenLoyaltySandbox, admin: dict[str, str]
) -> None:
    ada = find(client, admin, ADA.email)
    token = customer_login(client, ADA.email.upper(), ADA.password, form=True).json()["token"]
    got = claims(token)
    assert (got["id"], got["roles"], got["username"]) == (ada, ["ROLE_PARTICIPANT"], ADA.email)
    assert DATE.match(got["lastLoginAt"]) and "superAdmin" not in got
    assert claims(sandbox.issue_customer_token(ada))["id"] == ada
    assert customer_login(client, str(ADA.phone), ADA.password).status_code == 200
    client.put(f"{API}/customer/{ada}", data={"customer[loyaltyCardNumber]": "4783"}, headers=admin)
    assert customer_login(client, "4783", ADA.password).status_code == 200
    for username, password in [(ADA.email, "wrong"), ("nobody@example.com", ADA.password)]:
        bad = customer_login(client, username, password)
        assert (bad.status_code, bad.json()) == (401, {"code": 401, "message": "Bad credentials"})
    assert client.post("/api/OTHER/customer/login_check", json={}).json() == NOT_FOUND


def test_jwt_layer_errors(client: TestClient, sandbox: OpenLoyaltySandbox) -> None:
    ada = find(client, bearer(sandbox.issue_admin_token()), ADA.email)
    url = f"{API}/customer/{ada}"
    missing = client.get(url)
    assert (missing.status_code, missing.json()) == (401, fixture("error_401_jwt_not_found"))
    assert client.get(url, headers={"Authorization": "Basic abc"}).json()["message"] == (
        "JWT Token not found"
    )
    foreign = OpenLoyaltySandbox(seed=False).issue_admin_token()  # another sandbox's key
    for token in ("a.b.c", "garbage", foreign):
        response = client.get(url, headers=bearer(token))
        assert (response.status_code, response.json()) == (
            401,
            {"code": 401, "message": "Invalid JWT Token"},
        )
    token = sandbox.issue_customer_token(ada)
    assert client.get(url, headers=bearer(token)).status_code == 200
    sandbox.clock.advance(86400)
    expired = client.get(url, headers=bearer(token))
    assert (expired.status_code, expired.json()) == (
        401,
        {"code": 401, "message": "Expired JWT Token"},
    )


def test_refresh_returns_the_same_refresh_token_and_extends_it(
    client: TestClient, sandbox: OpenLoyaltySandbox
) -> None:
    login = customer_login(client, ADA.email, ADA.password).json()
    refresh = login["refresh_token"]
    for _ in range(2):  # 29 + 29 days: alive only because each use extends it
        sandbox.clock.advance(29 * 86400)
        body = client.post("/api/token/refresh", data={"refresh_token": refresh}).json()
        assert set(body) == {"token", "refresh_token"} and body["refresh_token"] == refresh
        assert claims(body["token"])["id"] == claims(login["token"])["id"]
    fresh = bearer(body["token"])
    assert (
        client.get(f"{API}/customer/{claims(body['token'])['id']}", headers=fresh).status_code
        == 200
    )
    sandbox.clock.advance(31 * 86400)
    expired = client.post("/api/token/refresh", json={"refresh_token": refresh})
    unknown = client.post("/api/token/refresh", json={"refresh_token": "nope"})
    for response in (expired, unknown):
        assert (response.status_code, response.json()) == (
            401,
            {"code": 401, "message": "An authentication exception occurred."},
        )


def test_revoke_drops_the_users_refresh_tokens(client: TestClient) -> None:
    login = customer_login(client, ADA.email, ADA.password).json()
    revoked = client.get("/api/token/revoke", headers=bearer(login["token"]))
    assert (revoked.status_code, revoked.json()) == (200, [])
    assert client.post("/api/token/refresh", json=login).status_code == 401


# --- reading customers ----------------------------------------------------------------------


def test_customer_reads_itself_only(
    client: TestClient, sandbox: OpenLoyaltySandbox, admin: dict[str, str]
) -> None:
    ada, katherine = find(client, admin, ADA.email), find(client, admin, KATHERINE.email)
    own = bearer(sandbox.issue_customer_token(ada))
    assert client.get(f"{API}/customer/{ada}", headers=own).json()["email"] == ADA.email
    for url in (f"{API}/customer/{katherine}", f"{API}/customer/customer/{katherine}/status"):
        other = client.get(url, headers=own)
        assert (other.status_code, other.json()) == (403, FORBIDDEN)
    for url in (
        f"{API}/customer",
        f"{API}/admin/customer",
        f"{API}/admin/customer/{ada}/status",
        f"{API}/level",
    ):
        assert (client.get(url, headers=own).status_code, client.get(url, headers=own).json()) == (
            403,
            FORBIDDEN,
        )
    assert client.post(f"{API}/admin/customer/{ada}/deactivate", headers=own).status_code == 403
    missing = client.get(f"{API}/customer/00000000-0000-4000-8000-000000000000", headers=admin)
    assert (missing.status_code, missing.json()) == (404, fixture("error_404_not_found"))


def test_customer_object_has_the_documented_shape_without_nulls(
    client: TestClient, sandbox: OpenLoyaltySandbox, admin: dict[str, str]
) -> None:
    dorothy = find(client, admin, DOROTHY.email)  # no phone
    body = client.get(f"{API}/customer/{dorothy}", headers=admin).json()
    optional = {"id", "gender", "phone", "birthDate", "loyaltyCardNumber", "lastLevelRecalculation"}
    assert set(fixture("customer_get_200")) - optional == set(body)
    assert not nulls(body) and "phone" not in body and "address" not in body
    assert DATE.match(body["createdAt"]) and DATE.match(body["updatedAt"])
    assert body["level"] == {
        "levelId": {"id": body["levelId"], "levelId": body["levelId"]},
        "name": "Bronze",
        "translations": {"en": {"name": "Bronze"}},
    }
    assert (body["levelPercent"], body["currency"], body["status"]["type"]) == (
        "5.00%",
        "eur",
        "active",
    )
    assert isinstance(body["transactionsAmount"], int)  # 10, not 10.0
    assert sandbox.customer(dorothy) == body


def test_admin_list_filters_pages_and_counts(client: TestClient, admin: dict[str, str]) -> None:
    everyone = client.get(f"{API}/customer", headers=admin).json()
    assert everyone["total"] == len(DEMO_CUSTOMERS) and len(everyone["customers"]) == 10
    newest_first = [row["createdAt"] for row in everyone["customers"]]
    assert newest_first == sorted(newest_first, reverse=True)
    assert set(everyone["customers"][0]) <= set(fixture("customer_get_200")) | {"address"}
    assert "segments" not in everyone["customers"][0]  # only the detail read carries segments
    page = client.get(f"{API}/admin/customer", params={"page": 2, "perPage": 5}, headers=admin)
    rows = page.json()["customers"]
    assert page.json()["total"] == len(DEMO_CUSTOMERS) and len(rows) == 5
    assert [r["email"] for r in rows] == [r["email"] for r in everyone["customers"][5:10]]
    like = client.get(f"{API}/admin/customer", params={"email": "LOVELACE"}, headers=admin).json()
    assert [r["email"] for r in like["customers"]] == [ADA.email] and like["total"] == 1
    exact = {"email": "lovelace@example.com", "strict": 1}
    assert client.get(f"{API}/customer", params=exact, headers=admin).json() == fixture(
        "customer_list_empty_200"
    )
    by_name = client.get(
        f"{API}/admin/customer",
        params={"firstName": "a", "sort": "firstName", "direction": "asc", "perPage": 3},
        headers=admin,
    ).json()
    names = [r["firstName"] for r in by_name["customers"]]
    assert names == sorted(names) and by_name["total"] > 3
    assert all("a" in r["firstName"].lower() for r in by_name["customers"])
    rich = client.get(
        f"{API}/admin/customer", params={"transactionsCountFrom": 24}, headers=admin
    ).json()
    assert {r["lastName"] for r in rich["customers"]} == {"Turing", "Liskov", "Hamilton"}


# --- updating customers ---------------------------------------------------------------------


def test_put_is_form_encoded_with_omit_erase_and_whole_address(
    client: TestClient, admin: dict[str, str]
) -> None:
    ada = find(client, admin, ADA.email)
    url = f"{API}/customer/{ada}"
    first = client.put(
        url,
        data={
            "customer[address][street]": "Bagno",
            "customer[address][city]": "Warszawa",
            "customer[address][postal]": "00-000",
            "customer[agreement2]": "1",
            "customer[gender]": "female",
            "customer[birthDate]": "1815-12-10",
        },
        headers=admin,
    )
    assert (first.status_code, first.json()) == (200, {"customerId": ada})  # nothing else
    body = client.get(url, headers=admin).json()
    assert body["address"] == {"street": "Bagno", "city": "Warszawa", "postal": "00-000"}
    assert body["birthDate"] == "1815-12-10T00:00:00+0000" and body["agreement2"] is True
    client.put(
        url,
        data={
            "customer[address][postal]": "00-950",
            "customer[phone]": "",
            "customer[agreement2]": "0",
        },
        headers=admin,
    )
    body = client.get(url, headers=admin).json()
    assert body["address"] == {"postal": "00-950"}  # a partial address wipes the rest
    assert "phone" not in body and body["agreement2"] is False
    assert (body["firstName"], body["gender"], body["email"]) == ("Ada", "female", ADA.email)
    client.put(url, json={"customer": {"lastName": "King", "agreement3": True}}, headers=admin)
    body = client.get(url, headers=admin).json()
    assert (body["lastName"], body["agreement3"], body["address"]) == (
        "King",
        True,
        {"postal": "00-950"},
    )
    client.put(
        url,
        data={"customer[email]": "Ada.King@Example.com", "customer[labels]": "tier:vip;src:web"},
        headers=admin,
    )
    body = client.get(url, headers=admin).json()
    assert body["email"] == "ada.king@example.com"  # stored lower-cased
    assert body["labels"] == [{"key": "tier", "value": "vip"}, {"key": "src", "value": "web"}]
    assert client.put(url, headers=admin).status_code == 400  # no form submitted at all


def test_form_errors_list_every_child(client: TestClient, admin: dict[str, str]) -> None:
    ada = find(client, admin, ADA.email)
    url = f"{API}/customer/{ada}"
    invalid = client.put(url, data={"customer[phone]": "+440000000"}, headers=admin)
    assert (invalid.status_code, invalid.json()) == (
        400,
        fixture("customer_update_400_invalid_phone"),
    )
    taken = client.put(
        url,
        data={"customer[email]": KATHERINE.email.upper(), "customer[phone]": str(KATHERINE.phone)},
        headers=admin,
    ).json()
    children = taken["form"]["children"]
    assert children["email"] == {"errors": ["This value is already used."]}
    assert children["phone"] == {"errors": ["This value is already used."]}
    assert children["firstName"] == {} and taken["errors"] == []
    mixed = client.put(
        url,
        data={
            "customer[gender]": "robot",
            "customer[birthDate]": "10.12.1815",
            "customer[address][postal]": "!!",
            "customer[nickname]": "Ada",
        },
        headers=admin,
    ).json()
    children = mixed["form"]["children"]
    assert children["gender"] == children["birthDate"] == {"errors": ["This value is not valid."]}
    assert children["address"]["children"]["postal"] == {"errors": ["This value is not valid."]}
    assert mixed["errors"] == ["This form should not contain extra fields."]
    assert client.get(url, headers=admin).json()["phone"] == ADA.phone  # nothing applied


def test_customer_form_has_no_admin_fields_and_partial_company_fails(
    client: TestClient, sandbox: OpenLoyaltySandbox, admin: dict[str, str]
) -> None:
    ada = find(client, admin, ADA.email)
    own = bearer(sandbox.issue_customer_token(ada))
    url = f"{API}/customer/{ada}"
    tree = client.put(url, data={"customer[levelId]": sandbox.levels()[3]["levelId"]}, headers=own)
    assert tree.status_code == 400 and tree.json()["errors"] == [
        "This form should not contain extra fields."
    ]
    assert {"levelId", "posId", "sellerId"}.isdisjoint(tree.json()["form"]["children"])
    partial = client.put(url, data={"customer[company][name]": "Analytical Engines"}, headers=admin)
    assert partial.status_code == 500  # documented: a company must be sent whole
    whole = {"customer[company][name]": "Analytical Engines", "customer[company][nip]": "123"}
    assert client.put(url, data=whole, headers=own).status_code == 200
    assert sandbox.customer(ada)["company"] == {"name": "Analytical Engines", "nip": "123"}


def test_customer_phone_change_waits_for_the_sms_code(
    client: TestClient, sandbox: OpenLoyaltySandbox, admin: dict[str, str]
) -> None:
    ada = find(client, admin, ADA.email)
    own = bearer(sandbox.issue_customer_token(ada))
    url = f"{API}/customer/{ada}"
    put = client.put(
        url, data={"customer[phone]": "+48500600700", "customer[firstName]": "A."}, headers=own
    )
    assert put.json() == {"customerId": ada}
    assert (sandbox.customer(ada)["phone"], sandbox.customer(ada)["firstName"]) == (ADA.phone, "A.")
    sms = sandbox.outbox.latest()
    assert sms is not None and (sms.channel, sms.to, sms.purpose) == (
        "sms",
        "+48500600700",
        "phone_change",
    )
    assert re.fullmatch(r"\d{6}", sms.code)
    wrong = "000000" if sms.code != "000000" else "111111"
    bad = client.post(f"{API}/customer/confirm-change/{wrong}", headers=own)
    assert (bad.status_code, bad.json()) == (404, NOT_FOUND)
    assert (
        client.post(f"{API}/customer/confirm-change/{sms.code}", headers=admin).status_code == 404
    )
    done = client.post(f"{API}/customer/confirm-change/{sms.code}", headers=own)
    assert (done.status_code, done.content) == (204, b"")
    assert sandbox.customer(ada)["phone"] == "+48500600700"
    assert client.post(f"{API}/customer/confirm-change/{sms.code}", headers=own).status_code == 404
    client.put(
        url, data={"customer[phone]": "+14155550177"}, headers=admin
    )  # admins apply directly
    assert sandbox.customer(ada)["phone"] == "+14155550177" and len(sandbox.outbox.messages) == 1


# --- status, admin actions, registration ------------------------------------------------------


def test_status_keys_per_tier_mode(
    client: TestClient, sandbox: OpenLoyaltySandbox, admin: dict[str, str]
) -> None:
    ada = find(client, admin, ADA.email)
    status = client.get(f"{API}/admin/customer/{ada}/status", headers=admin).json()
    assert (status["level"], status["levelName"], status["nextLevel"], status["nextLevelName"]) == (
        "15.00%",
        "Gold",
        "20.00%",
        "Platinum",
    )
    assert (status["points"], status["pointsToNextLevel"], status["averageTransactionsAmount"]) == (
        1720,
        3280,
        "10.00",
    )
    assert set(status) <= set(fixture("customer_status_admin_200")) and not nulls(status)
    assert not any(key.startswith("transactionsAmountToNextLevel") for key in status)
    own = client.get(
        f"{API}/customer/customer/{ada}/status", headers=bearer(sandbox.issue_customer_token(ada))
    ).json()
    assert set(own) - set(status) == {"p2pPoints", "pointsExpiringBreakdown"}
    assert client.get(f"{API}/seller/customer/{ada}/status", headers=admin).json() == status
    top = sandbox.add_customer(email="top@example.com", points=9000)["customerId"]
    top_status = client.get(f"{API}/admin/customer/{top}/status", headers=admin).json()
    assert top_status["levelName"] == "Platinum" and "pointsToNextLevel" not in top_status
    assert not any(key.startswith("nextLevel") for key in top_status)
    by_spend = OpenLoyaltySandbox(tier_assign_type="transactions")
    spend_client, spend_admin = TestClient(by_spend.app), bearer(by_spend.issue_admin_token())
    barbara = find(spend_client, spend_admin, "barbara.liskov@example.com")
    spend = spend_client.get(f"{API}/admin/customer/{barbara}/status", headers=spend_admin).json()
    assert (
        spend["levelName"],
        spend["transactionsAmount"],
        spend["transactionsAmountToNextLevel"],
    ) == (
        "Silver",  # 510 spent, although 5100 points
        510,
        990,
    )
    assert "pointsToNextLevel" not in spend and set(spend) <= set(
        fixture("customer_status_customer_200")
    ) | {"transactionsAmountToNextLevel"}


def test_status_without_a_points_account(
    client: TestClient, sandbox: OpenLoyaltySandbox, admin: dict[str, str]
) -> None:
    ken = find(client, admin, "ken.thompson@example.com")  # seeded with no points
    assert client.get(f"{API}/admin/customer/{ken}/status", headers=admin).json() == {
        "firstName": "Ken",
        "lastName": "Thompson",
        "customerId": ken,
        "currency": "eur",
    }
    nameless = sandbox.add_customer(email="empty@example.com")["customerId"]
    bare = client.get(f"{API}/admin/customer/{nameless}/status", headers=admin).json()
    assert bare == {"customerId": nameless, "currency": "eur"}


def test_activate_and_deactivate(
    client: TestClient, sandbox: OpenLoyaltySandbox, admin: dict[str, str]
) -> None:
    ada = find(client, admin, ADA.email)
    login = customer_login(client, ADA.email, ADA.password).json()
    off = client.post(f"{API}/admin/customer/{ada}/deactivate", headers=admin)
    assert (off.status_code, off.content) == (200, b"")
    assert (
        sandbox.customer(ada)["active"] is False
        and sandbox.customer(ada)["status"]["type"] == "blocked"
    )
    assert customer_login(client, ADA.email, ADA.password).status_code == 401
    assert client.post("/api/token/refresh", json=login).status_code == 401
    on = client.post(f"{API}/admin/customer/{ada}/activate", headers=admin)
    assert (on.status_code, on.content, sandbox.customer(ada)["active"]) == (200, b"", True)
    assert customer_login(client, ADA.email, ADA.password).status_code == 200


def test_assign_and_remove_a_level(
    client: TestClient, sandbox: OpenLoyaltySandbox, admin: dict[str, str]
) -> None:
    ada = find(client, admin, ADA.email)
    url = f"{API}/customer/{ada}/level"
    missing = client.post(url, headers=admin)
    assert (missing.status_code, missing.json()) == (400, {"levelId": "field is required"})
    unknown = client.post(
        url, data={"levelId": "00000000-0000-4000-8000-000000000000"}, headers=admin
    )
    assert (unknown.status_code, unknown.json()) == (404, NOT_FOUND)
    bronze = sandbox.levels()[0]["levelId"]
    assigned = client.post(url, data={"levelId": bronze}, headers=admin)
    assert (assigned.status_code, assigned.json()) == (200, [])
    body = sandbox.customer(ada)
    assert (body["manuallyAssignedLevelId"], body["levelId"], body["levelPercent"]) == (
        bronze,
        bronze,
        "5.00%",
    )
    status = client.get(f"{API}/admin/customer/{ada}/status", headers=admin).json()
    assert (status["levelName"], status["nextLevelName"]) == ("Bronze", "Silver")
    own = bearer(sandbox.issue_customer_token(ada))
    assert client.post(url, data={"levelId": bronze}, headers=own).status_code == 403
    removed = client.post(f"{API}/customer/{ada}/remove-manually-level", headers=admin)
    assert removed.status_code == 204 and sandbox.customer(ada)["level"]["name"] == "Gold"


def test_register(client: TestClient, sandbox: OpenLoyaltySandbox, admin: dict[str, str]) -> None:
    url = f"{API}/customer/register"
    empty = client.post(url, headers=admin)
    assert (empty.status_code, empty.json()) == (400, fixture("customer_register_400_empty_form"))
    blank = client.post(url, data={"customer[gender]": "male"}, headers=admin).json()["form"]
    assert {k for k, v in blank["children"].items() if "errors" in v} == {
        "firstName",
        "lastName",
        "email",
        "agreement1",
    }
    assert blank["children"]["email"] == {"errors": ["This value should not be blank."]}
    form = {
        "customer[firstName]": "John",
        "customer[lastName]": "Kowalski",
        "customer[email]": "john4@example.com",
        "customer[phone]": "+48500600701",
        "customer[agreement1]": "1",
    }
    made = client.post(f"{API}/admin/customer/register", data=form, headers=admin)
    assert made.status_code == 200 and set(made.json()) == set(fixture("customer_register_200"))
    assert sandbox.customer(made.json()["customerId"])["phone"] == "+48500600701"
    status = client.get(f"{API}/admin/customer/{made.json()['customerId']}/status", headers=admin)
    assert (status.json()["points"], status.json()["levelName"]) == (0, "Bronze")  # account opened
    again = client.post(url, data=form, headers=admin).json()["form"]["children"]
    assert again["email"] == again["phone"] == {"errors": ["This value is already used."]}


# --- levels, paths ---------------------------------------------------------------------------


def test_levels_have_the_documented_shapes(
    client: TestClient, sandbox: OpenLoyaltySandbox, admin: dict[str, str]
) -> None:
    levels = client.get(f"{API}/level", headers=admin).json()
    assert set(levels) == {"levels", "total"} and levels["total"] == 4
    assert all(set(lv) == set(fixture("levels_list_200")["levels"][0]) for lv in levels["levels"])
    assert [lv["name"] for lv in levels["levels"]] == ["Bronze", "Silver", "Gold", "Platinum"]
    by_name = client.get(
        f"{API}/level", params={"sort": "name", "direction": "ASC", "perPage": 2}, headers=admin
    ).json()
    assert [lv["name"] for lv in by_name["levels"]] == ["Bronze", "Gold"] and by_name["total"] == 4
    silver = levels["levels"][1]["levelId"]
    one = client.get(f"{API}/level/{silver}", headers=admin).json()
    assert set(one) == set(fixture("level_get_200")) and one["reward"]["value"] == 0.10
    assert client.get(f"{API}/level/nope", headers=admin).json() == NOT_FOUND
    ada = find(client, admin, ADA.email)
    public = client.get(f"{API}/customer/level", headers=bearer(sandbox.issue_customer_token(ada)))
    expected = fixture("customer_levels_list_200")
    assert set(public.json()) == set(expected)
    assert all(set(lv) == set(expected["levels"][0]) for lv in public.json()["levels"])
    assert client.get(f"{API}/customer/level").status_code == 401


def test_paths_are_store_scoped_and_errors_are_framework_bodies(
    client: TestClient, admin: dict[str, str]
) -> None:
    assert client.get("/api/OTHER/customer", headers=admin).json() == NOT_FOUND
    assert client.get(f"{API}/nothing-here", headers=admin).json() == NOT_FOUND
    wrong = client.delete(f"{API}/level", headers=admin)
    assert (wrong.status_code, wrong.json()) == (
        405,
        {"error": {"code": 405, "message": "Method Not Allowed"}},
    )
    broken = client.put(
        f"{API}/customer/{find(client, admin, ADA.email)}",
        content=b"{not json",
        headers={**admin, "Content-Type": "application/json"},
    )
    assert (broken.status_code, broken.json()) == (400, fixture("error_400_bad_request"))
    check = client.get(f"{API}/customer/check", params={"emailOrPhone": ADA.phone})
    assert check.json() == {"total": 1}
