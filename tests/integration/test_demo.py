"""The demo command's app on a real port: the README's first command, as a user would use it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from customer_gateway.demo import DEMO_ADMIN_KEY, Demo, build_demo, walkthrough_document
from support.live import LiveServer, bind_free


@pytest.fixture
def demo() -> Iterator[tuple[Demo, httpx.Client]]:
    # The demo calls its own sandboxes over HTTP, so it needs its real URL before it starts.
    sock = bind_free()
    demo = build_demo(f"http://127.0.0.1:{sock.getsockname()[1]}")
    with LiveServer(demo.app, sock), httpx.Client(base_url=demo.base_url, timeout=10) as client:
        yield demo, client


def post(
    client: httpx.Client,
    query: str,
    variables: dict[str, str] | None = None,
    token: str | None = None,
) -> dict:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_acceptance_sign_in_answers_with_data(demo: tuple[Demo, httpx.Client]) -> None:
    _, client = demo
    body = post(
        client,
        'mutation { signIn(backend: "menu", username: "ada.lovelace@example.com", password: "menu-demo-pass") { token { accessToken expiresAt } customer { id email } userErrors { code } } }',
    )
    payload = body["data"]["signIn"]
    assert payload["userErrors"] == []
    assert payload["customer"]["email"] == "ada.lovelace@example.com"
    assert payload["token"]["accessToken"].count(".") == 2


def test_graphiql_opens_with_the_walkthrough(demo: tuple[Demo, httpx.Client]) -> None:
    _, client = demo
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    assert "mutation SignIn" in page.text and "ada.lovelace@example.com" in page.text


def test_banner_names_url_credentials_admin_key_and_outbox(demo: tuple[Demo, httpx.Client]) -> None:
    d, _ = demo
    banner = d.banner()
    assert f"{d.base_url}/graphql" in banner
    for credential in (
        "menu-demo-pass",
        "kibo-demo-pass",
        "loyalty-demo-pass",
        "ada.lovelace@example.com",
    ):
        assert credential in banner
    assert DEMO_ADMIN_KEY in banner
    for outbox in (
        "/sandbox/menu/_sandbox/outbox",
        "/sandbox/loyalty/_sandbox/outbox",
        "/_demo/outbox",
    ):
        assert f"{d.base_url}{outbox}" in banner


def test_local_frontends_may_call_the_demo_and_the_banner_says_so(
    demo: tuple[Demo, httpx.Client],
) -> None:
    d, client = demo
    assert "http://localhost:*" in d.banner() and "http://127.0.0.1:*" in d.banner()
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    for origin in ("http://localhost:5173", "http://127.0.0.1:3000", "http://[::1]:8080"):
        answer = client.options("/graphql", headers={"Origin": origin, **preflight})
        assert answer.headers.get("access-control-allow-origin") == origin
    remote = client.options("/graphql", headers={"Origin": "https://example.com", **preflight})
    assert "access-control-allow-origin" not in remote.headers


def operation(name: str) -> str:
    document = walkthrough_document()
    match = re.search(rf"^(mutation|query) {name}\b.*?^}}$", document, re.S | re.M)
    assert match is not None, name
    return match.group(0)


def test_the_walkthrough_works_step_by_step(demo: tuple[Demo, httpx.Client]) -> None:
    _, client = demo
    signed = post(client, operation("SignIn"))["data"]["signIn"]
    token, cid = signed["token"]["accessToken"], signed["customer"]["id"]
    me = post(client, operation("Me"), token=token)["data"]["me"]
    assert me["id"] == cid
    assert me["level"]["name"] == "Gold" and me["loyalty"]["points"] == 1720
    token = post(client, operation("Refresh"), token=token)["data"]["refreshToken"]["token"][
        "accessToken"
    ]
    requested = post(client, operation("RequestEmailChange"), {"id": cid}, token=token)
    assert requested["data"]["requestEmailChange"]["pending"] is True
    outbox = client.get("/sandbox/menu/_sandbox/outbox").json()
    code = outbox[-1]["code"]
    confirmed = post(
        client, operation("ConfirmEmailChange"), {"id": cid, "code": code}, token=token
    )
    assert confirmed["data"]["confirmEmailChange"]["customer"]["email"] == "ada@example.org"


def test_open_loyalty_email_change_codes_appear_in_the_demo_outbox(
    demo: tuple[Demo, httpx.Client],
) -> None:
    _, client = demo
    signed = post(
        client,
        'mutation { signIn(backend: "loyalty", username: "ada.lovelace@example.com", password: "loyalty-demo-pass") { token { accessToken } customer { id } } }',
    )["data"]["signIn"]
    token, cid = signed["token"]["accessToken"], signed["customer"]["id"]
    requested = post(
        client,
        'mutation($id: ID!) { requestEmailChange(id: $id, email: "ada@example.net") { pending } }',
        {"id": cid},
        token=token,
    )
    assert requested["data"]["requestEmailChange"]["pending"] is True
    code = client.get("/_demo/outbox").json()[-1]["code"]
    done = post(
        client,
        "mutation($id: ID!, $c: String!) { confirmEmailChange(id: $id, code: $c) { customer { email } } }",
        {"id": cid, "c": code},
        token=token,
    )
    assert done["data"]["confirmEmailChange"]["customer"]["email"] == "ada@example.net"


def test_kibo_email_change_confirmed_with_the_demo_outbox_code(
    demo: tuple[Demo, httpx.Client],
) -> None:
    _, client = demo
    signed = post(
        client,
        'mutation { signIn(backend: "kibo", username: "ada.lovelace@example.com", password: "kibo-demo-pass") { token { accessToken } customer { id loyalty { points } } } }',
    )["data"]["signIn"]
    token, cid = signed["token"]["accessToken"], signed["customer"]["id"]
    assert signed["customer"]["loyalty"]["points"] == 1720
    requested = post(
        client,
        'mutation($id: ID!) { requestEmailChange(id: $id, email: "ada@example.net") { pending } }',
        {"id": cid},
        token=token,
    )
    assert requested["data"]["requestEmailChange"]["pending"] is True
    code = client.get("/_demo/outbox").json()[-1]["code"]
    done = post(
        client,
        "mutation($id: ID!, $c: String!) { confirmEmailChange(id: $id, code: $c) { customer { email } } }",
        {"id": cid, "c": code},
        token=token,
    )
    assert done["data"]["confirmEmailChange"]["customer"]["email"] == "ada@example.net"


def test_sandbox_command_app_serves_every_emulator() -> None:
    from starlette.testclient import TestClient

    from customer_gateway.sandbox.app import MOUNTS, build_sandbox_app

    app, description = build_sandbox_app("http://127.0.0.1:9000")
    client = TestClient(app)
    for mount in MOUNTS.values():
        assert f"http://127.0.0.1:9000{mount}/api" in description
        assert client.get(f"{mount}/_sandbox/journal").json() == []
