"""The Open Loyalty emulator behaves like Open Loyalty 4.x."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from customer_gateway.sandbox.open_loyalty import (
    DEMO_ADMIN_PASSWORD,
    DEMO_ADMIN_USERNAME,
    DEMO_CUSTOMERS,
    OpenLoyaltySandbox,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "open_loyalty"
ADA = DEMO_CUSTOMERS[0]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # type: ignore[no-any-return]


@pytest.fixture
def sandbox() -> OpenLoyaltySandbox:
    return OpenLoyaltySandbox()


@pytest.fixture
def client(sandbox: OpenLoyaltySandbox) -> TestClient:
    return TestClient(sandbox.app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ada_id(sandbox: OpenLoyaltySandbox, client: TestClient) -> str:
    admin = sandbox.issue_admin_token()
    found = client.get(
        "/api/DEFAULT/admin/customer",
        params={"email": ADA.email, "strict": "1"},
        headers=bearer(admin),
    ).json()
    return str(found["customers"][0]["customerId"])


def test_logins_issue_rs256_tokens_with_role_and_id_claims(
    client: TestClient, sandbox: OpenLoyaltySandbox
) -> None:
    admin = client.post(
        "/api/admin/login_check",
        json={"_username": DEMO_ADMIN_USERNAME, "_password": DEMO_ADMIN_PASSWORD},
    ).json()
    assert set(admin) == {"token", "refresh_token"}
    assert admin["token"].startswith("eyJhbGciOiJSUzI1NiIsInR5cCI6")  # as in the vendor's examples
    assert (
        claims(admin["token"])["roles"] == ["ROLE_ADMIN"]
        and claims(admin["token"])["superAdmin"] is True
    )
    form = client.post(
        "/api/DEFAULT/customer/login_check",
        data={"_username": ADA.email, "_password": ADA.password},
    )
    customer = claims(form.json()["token"])
    assert customer["roles"] == ["ROLE_PARTICIPANT"]
    assert customer["id"] == ada_id(sandbox, client)
    assert customer["exp"] - customer["iat"] == 86400
    phone = client.post(
        "/api/DEFAULT/customer/login_check",
        json={"_username": ADA.phone, "_password": ADA.password},
    )
    assert phone.status_code == 200
    bad = client.post(
        "/api/DEFAULT/customer/login_check", json={"_username": ADA.email, "_password": "x"}
    )
    assert (bad.status_code, bad.json()) == (401, {"code": 401, "message": "Bad credentials"})


def test_jwt_layer_errors(client: TestClient, sandbox: OpenLoyaltySandbox) -> None:
    cid = ada_id(sandbox, client)
    url = f"/api/DEFAULT/customer/{cid}"
    assert client.get(url).json() == {"code": 401, "message": "JWT Token not found"}
    assert client.get(url, headers=bearer("a.b.c")).json() == {
        "code": 401,
        "message": "Invalid JWT Token",
    }
    token = sandbox.issue_customer_token(cid)
    sandbox.clock.advance(86401)
    assert client.get(url, headers=bearer(token)).json() == {
        "code": 401,
        "message": "Expired JWT Token",
    }


def test_refresh_keeps_the_refresh_token(client: TestClient) -> None:
    login = client.post(
        "/api/DEFAULT/customer/login_check",
        json={"_username": ADA.email, "_password": ADA.password},
    ).json()
    refreshed = client.post(
        "/api/token/refresh", data={"refresh_token": login["refresh_token"]}
    ).json()
    assert (
        refreshed["refresh_token"] == login["refresh_token"] and refreshed["token"].count(".") == 2
    )
    assert client.post("/api/token/refresh", json={"refresh_token": "nope"}).status_code == 401


def test_customer_reads_itself_only(client: TestClient, sandbox: OpenLoyaltySandbox) -> None:
    cid = ada_id(sandbox, client)
    token = sandbox.issue_customer_token(cid)
    body = client.get(f"/api/DEFAULT/customer/{cid}", headers=bearer(token)).json()
    assert body["email"] == ADA.email and body["levelPercent"] == "15.00%"
    assert "address" not in body and None not in body.values()  # nulls are omitted
    assert set(fixture("customer_get_200")) - set(body) <= {
        "id",
        "gender",
        "birthDate",
        "loyaltyCardNumber",
        "lastLevelRecalculation",
        "lastTransactionDate",
    }
    other = sandbox.add_customer(email="other@example.com")["customerId"]
    forbidden = client.get(f"/api/DEFAULT/customer/{other}", headers=bearer(token))
    assert (forbidden.status_code, forbidden.json()) == (
        403,
        {"error": {"code": 403, "message": "Forbidden"}},
    )
    missing = client.get(
        "/api/DEFAULT/customer/00000000-0000-0000-0000-000000000000",
        headers=bearer(sandbox.issue_admin_token()),
    )
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": {"code": 404, "message": "Not Found"}},
    )
    assert client.get("/api/DEFAULT/admin/customer", headers=bearer(token)).status_code == 403


def test_put_is_form_encoded_with_erase_and_whole_address(
    client: TestClient, sandbox: OpenLoyaltySandbox
) -> None:
    cid = ada_id(sandbox, client)
    admin = bearer(sandbox.issue_admin_token())
    url = f"/api/DEFAULT/customer/{cid}"
    response = client.put(
        url,
        data={
            "customer[address][street]": "Bagno",
            "customer[address][city]": "Warszawa",
            "customer[agreement2]": "1",
        },
        headers=admin,
    )
    assert response.json() == {"customerId": cid}  # nothing else, as documented
    client.put(
        url, data={"customer[address][postal]": "00-950", "customer[phone]": ""}, headers=admin
    )
    body = client.get(url, headers=admin).json()
    assert body["address"] == {"postal": "00-950"}  # a partial address wipes the rest
    assert "phone" not in body and body["agreement2"] is True and body["firstName"] == "Ada"


def test_form_errors_list_every_child(client: TestClient, sandbox: OpenLoyaltySandbox) -> None:
    cid = ada_id(sandbox, client)
    response = client.put(
        f"/api/DEFAULT/customer/{cid}",
        data={"customer[phone]": "abc", "customer[email]": DEMO_CUSTOMERS[1].email},
        headers=bearer(sandbox.issue_admin_token()),
    )
    assert response.status_code == 400
    tree = response.json()
    children = tree["form"]["children"]
    assert tree["errors"] == [] and children["firstName"] == {}
    assert children["phone"] == {"errors": ["This value is not a valid phone number."]}
    assert children["email"] == {"errors": ["This value is already used."]}
    assert set(children["address"]["children"]) >= {"street", "city", "postal", "country"}


def test_customer_phone_change_waits_for_the_sms_code(
    client: TestClient, sandbox: OpenLoyaltySandbox
) -> None:
    cid = ada_id(sandbox, client)
    token = bearer(sandbox.issue_customer_token(cid))
    client.put(
        f"/api/DEFAULT/customer/{cid}", data={"customer[phone]": "+48500600700"}, headers=token
    )
    assert sandbox.customer(cid)["phone"] == ADA.phone
    sms = sandbox.outbox.latest()
    assert sms is not None and sms.to == "+48500600700"
    assert (
        client.post("/api/DEFAULT/customer/confirm-change/000000x", headers=token).status_code
        == 404
    )
    confirmed = client.post(f"/api/DEFAULT/customer/confirm-change/{sms.code}", headers=token)
    assert confirmed.status_code == 204 and confirmed.content == b""
    assert sandbox.customer(cid)["phone"] == "+48500600700"


def test_status_per_tier_mode_and_without_points(
    client: TestClient, sandbox: OpenLoyaltySandbox
) -> None:
    cid = ada_id(sandbox, client)
    admin = bearer(sandbox.issue_admin_token())
    status = client.get(f"/api/DEFAULT/admin/customer/{cid}/status", headers=admin).json()
    assert (status["level"], status["nextLevel"], status["pointsToNextLevel"]) == (
        "15.00%",
        "20.00%",
        3280,
    )
    assert isinstance(status["averageTransactionsAmount"], str)
    own = client.get(
        f"/api/DEFAULT/customer/customer/{cid}/status",
        headers=bearer(sandbox.issue_customer_token(cid)),
    ).json()
    assert "p2pPoints" in own and "pointsExpiringBreakdown" in own
    top = sandbox.add_customer(email="top@example.com", points=9000)["customerId"]
    top_status = client.get(f"/api/DEFAULT/admin/customer/{top}/status", headers=admin).json()
    assert (
        not any(key.startswith("nextLevel") for key in top_status)
        and "pointsToNextLevel" not in top_status
    )
    empty = sandbox.add_customer(email="empty@example.com")["customerId"]
    assert set(client.get(f"/api/DEFAULT/admin/customer/{empty}/status", headers=admin).json()) == {
        "firstName",
        "lastName",
        "customerId",
        "currency",
    }
    by_amount = OpenLoyaltySandbox(tier_assign_type="transactions")
    other = TestClient(by_amount.app)
    aid = ada_id(by_amount, other)
    amount_status = other.get(
        f"/api/DEFAULT/admin/customer/{aid}/status", headers=bearer(by_amount.issue_admin_token())
    ).json()
    assert (
        "pointsToNextLevel" not in amount_status
        and "transactionsAmountToNextLevel" in amount_status
    )


def test_list_paging_filters_and_total(client: TestClient, sandbox: OpenLoyaltySandbox) -> None:
    admin = bearer(sandbox.issue_admin_token())
    page = client.get(
        "/api/DEFAULT/customer", params={"page": 2, "perPage": 5}, headers=admin
    ).json()
    assert page["total"] == len(DEMO_CUSTOMERS) and len(page["customers"]) == 5
    substring = client.get(
        "/api/DEFAULT/admin/customer", params={"email": "example.com"}, headers=admin
    ).json()
    assert substring["total"] == len(DEMO_CUSTOMERS)
    assert (
        fixture("customer_list_empty_200")
        == client.get(
            "/api/DEFAULT/customer", params={"email": "nobody", "strict": 1}, headers=admin
        ).json()
    )


def test_admin_actions(client: TestClient, sandbox: OpenLoyaltySandbox) -> None:
    cid = ada_id(sandbox, client)
    admin = bearer(sandbox.issue_admin_token())
    off = client.post(f"/api/DEFAULT/admin/customer/{cid}/deactivate", headers=admin)
    assert (
        off.status_code == 200 and off.content == b"" and sandbox.customer(cid)["active"] is False
    )
    missing = client.post(f"/api/DEFAULT/customer/{cid}/level", headers=admin)
    assert (missing.status_code, missing.json()) == (400, {"levelId": "field is required"})
    bronze = sandbox.levels()[0]["levelId"]
    assert (
        client.post(
            f"/api/DEFAULT/customer/{cid}/level", data={"levelId": bronze}, headers=admin
        ).json()
        == []
    )
    assert sandbox.customer(cid)["manuallyAssignedLevelId"] == bronze


def test_levels_have_the_documented_shapes(client: TestClient, sandbox: OpenLoyaltySandbox) -> None:
    admin = bearer(sandbox.issue_admin_token())
    levels = client.get("/api/DEFAULT/level", headers=admin).json()
    assert set(levels["levels"][0]) == set(fixture("levels_list_200")["levels"][0])
    one = client.get(f"/api/DEFAULT/level/{levels['levels'][1]['levelId']}", headers=admin).json()
    assert one["name"] == "Silver"
    customer_view = client.get(
        "/api/DEFAULT/customer/level",
        headers=bearer(sandbox.issue_customer_token(ada_id(sandbox, client))),
    ).json()
    assert set(customer_view["levels"][0]) == set(fixture("customer_levels_list_200")["levels"][0])


def test_register_needs_the_required_fields(
    client: TestClient, sandbox: OpenLoyaltySandbox
) -> None:
    admin = bearer(sandbox.issue_admin_token())
    empty = client.post("/api/DEFAULT/customer/register", data={}, headers=admin)
    assert empty.status_code == 400 and empty.json()["form"]["children"]["email"] == {
        "errors": ["This value should not be blank."]
    }
    made = client.post(
        "/api/DEFAULT/customer/register",
        data={
            "customer[firstName]": "N",
            "customer[lastName]": "U",
            "customer[email]": "n@example.com",
        },
        headers=admin,
    )
    assert set(made.json()) == {"customerId", "email"}


def test_unknown_store_code(client: TestClient, sandbox: OpenLoyaltySandbox) -> None:
    response = client.get("/api/OTHER/customer", headers=bearer(sandbox.issue_admin_token()))
    assert response.status_code == 404
