"""P1-P8: what is refused before any upstream call (RELIABILITY.md section 4.A)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from conftest import (
    ADMIN_KEY,
    GatewayFactory,
    LiveGatewayFactory,
    Sandboxes,
    kibo_backend,
    menu_backend,
)
from support.graphql import error_codes, gql
from support.live import serve_process

ME = '{ me(backend: "menu") { email } }'


def upstream_calls(sandboxes: Sandboxes) -> int:
    return (
        sandboxes.menu.journal.count()
        + sandboxes.kibo.journal.count()
        + sandboxes.loyalty.journal.count()
    )


# --- P1 body size ---------------------------------------------------------------------------


def test_p1_streamed_body_over_the_cap_is_refused(
    make_live_gateway: LiveGatewayFactory, sandboxes: Sandboxes
) -> None:
    gateway = make_live_gateway(
        menu_backend("menu", sandboxes.url("menu")), extra="max_body_bytes = 4096"
    )

    def chunks() -> Iterator[bytes]:
        yield b'{"query": "{ backends { name } }", "pad": "'
        for _ in range(100):  # no Content-Length: the cap must hold while streaming
            yield b"x" * 1024

    response = httpx.post(
        f"{gateway.url}/graphql",
        content=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert upstream_calls(sandboxes) == 0


# --- P3 operation shape -------------------------------------------------------------------


def test_p3_depth_limit_holds_through_fragments(gateway: TestClient) -> None:
    nested = "level { name }"
    for _ in range(15):
        nested = f"nextLevel {{ {nested} }}"
    document = f'query {{ me(backend: "menu") {{ ...F }} }} fragment F on Customer {{ loyalty {{ {nested} }} }}'
    body = gql(gateway, document)
    assert (
        body["data"] is None and "exceeds maximum operation depth" in body["errors"][0]["message"]
    )


def test_p3_root_fields_and_aliases_at_and_over_the_limit(
    gateway: TestClient, sandboxes: Sandboxes
) -> None:
    ten = "{ " + " ".join(f"b{i}: backends {{ name }}" for i in range(10)) + " }"
    assert "errors" not in gql(gateway, ten)
    eleven_in_fragments = (
        "query { ...A ...B } fragment A on Query { "
        + " ".join(f"a{i}: backends {{ name }}" for i in range(6))
        + " } fragment B on Query { "
        + " ".join(f"b{i}: backends {{ name }}" for i in range(5))
        + " }"
    )
    body = gql(gateway, eleven_in_fragments)
    assert body["data"] is None and any("11 root fields" in e["message"] for e in body["errors"])
    assert upstream_calls(sandboxes) == 0


def test_p3_recursive_fragments_and_odd_names_are_validation_errors(gateway: TestClient) -> None:
    cyclic = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"
    assert set(error_codes(gql(gateway, cyclic))) == {"GRAPHQL_VALIDATION_FAILED"}
    nested = "level { name }"
    for _ in range(15):
        nested = f"nextLevel {{ {nested} }}"
    sneaky = f'query {{ ...__schema }} fragment __schema on Query {{ me(backend: "menu") {{ loyalty {{ {nested} }} }} }}'
    body = gql(gateway, sneaky)  # a fragment named like introspection is limited all the same
    assert (
        body["data"] is None and "exceeds maximum operation depth" in body["errors"][0]["message"]
    )


def test_p3_only_one_code_confirmation_per_document(
    gateway: TestClient, sandboxes: Sandboxes
) -> None:
    document = (
        "mutation($id: ID!) { "
        + " ".join(
            f'c{i}: confirmEmailChange(id: $id, code: "{i:06d}") {{ userErrors {{ code }} }}'
            for i in range(100)
        )
        + " }"
    )
    body = gql(gateway, document, {"id": "x"})
    assert body["data"] is None
    assert any("At most one sign-in or code confirmation" in e["message"] for e in body["errors"])
    assert upstream_calls(sandboxes) == 0


def test_p3_duplicate_me_fields_make_one_upstream_call(
    gateway: TestClient, sandboxes: Sandboxes
) -> None:
    signed = gql(
        gateway,
        'mutation { signIn(backend: "menu", username: "ada.lovelace@example.com", password: "menu-demo-pass") { token { accessToken } } }',
    )
    token = signed["data"]["signIn"]["token"]["accessToken"]
    sandboxes.menu.journal.clear()
    ten = "{ " + " ".join('me(backend: "menu") { email }' for _ in range(10)) + " }"
    body = gql(gateway, ten, token=token)
    assert body["data"]["me"]["email"] == "ada.lovelace@example.com"
    assert sandboxes.menu.journal.count() == 1  # merged by GraphQL, then one loader call
    # More repeats than that cost graphql-core quadratic time to merge: refused unrun.
    eleven = "{ " + " ".join('me(backend: "menu") { email }' for _ in range(11)) + " }"
    refused = gql(gateway, eleven, token=token)
    assert error_codes(refused) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "selected 11 times" in refused["errors"][0]["message"]
    assert sandboxes.menu.journal.count() == 1
    five_hundred = "{ " + " ".join('me(backend: "menu") { email }' for _ in range(500)) + " }"
    refused = gql(gateway, five_hundred, token=token)  # over the 2,000-token parser cap
    assert error_codes(refused) == ["GRAPHQL_PARSE_FAILED"]
    assert "2000 tokens" in refused["errors"][0]["message"]
    assert sandboxes.menu.journal.count() == 1


# --- P5 amount limits -----------------------------------------------------------------------


def test_p5_first_is_capped_before_any_call(kibo_gateway: TestClient, sandboxes: Sandboxes) -> None:
    sandboxes.kibo.journal.clear()
    body = gql(
        kibo_gateway,
        '{ customers(backend: "kibo", first: 100000) { totalCount } }',
        admin_key=ADMIN_KEY,
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert sandboxes.kibo.journal.count() == 0
    gql(
        kibo_gateway,
        '{ customers(backend: "kibo", first: 100) { totalCount } }',
        admin_key=ADMIN_KEY,
    )
    sizes = [e.query for e in sandboxes.kibo.journal.matching("GET", "/commerce/customer/accounts")]
    assert sizes and all("pageSize=100" in q for q in sizes)


# --- P8 rate limits -----------------------------------------------------------------------


LIMITED = '[limits]\nrequests_per_address = 8\nrequests_per_token = 3\nwindow_s = 60\ntrusted_proxies = ["10.9.0.0/16"]'


@pytest.fixture
def limited(make_gateway: GatewayFactory, sandboxes: Sandboxes) -> TestClient:
    return make_gateway(kibo_backend("kibo", sandboxes.url("kibo")), extra=LIMITED)


def test_p8_per_token_limit(limited: TestClient, sandboxes: Sandboxes) -> None:
    headers = {"Authorization": "Bearer some-token"}
    answers = [
        limited.post(
            "/graphql", json={"query": '{ me(backend: "kibo") { email } }'}, headers=headers
        )
        for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert refused.json()["errors"][0]["extensions"]["retryAfter"] == int(
        refused.headers["retry-after"]
    )
    other = limited.post(
        "/graphql",
        json={"query": "{ backends { name } }"},
        headers={"Authorization": "Bearer other-token"},
    )
    assert other.status_code == 200  # another client is not affected
    # Three requests got through; the first 401 also renewed the app token and repeated its
    # call once (the renewal then rests for a second), so one more call at most.
    assert sandboxes.kibo.journal.count("GET", "accounts/current") <= 3 + 1


def test_p8_per_address_limit_holds_across_rotating_tokens_and_spoofed_headers(
    limited: TestClient,
) -> None:
    statuses = []
    for i in range(10):
        headers = {"Authorization": f"Bearer rotating-{i}", "X-Forwarded-For": f"203.0.113.{i}"}
        statuses.append(
            limited.post(
                "/graphql", json={"query": "{ backends { name } }"}, headers=headers
            ).status_code
        )
    # TestClient's peer is not a trusted proxy: X-Forwarded-For is ignored, so one bucket.
    assert statuses == [200] * 8 + [429, 429]


def test_p8_forwarded_for_counts_only_from_trusted_proxies() -> None:
    from customer_gateway.web.rate_limit import _networks, client_address

    trusted = _networks(["10.9.0.0/16"])

    def scope(peer: str, forwarded: str) -> dict[str, object]:
        return {"client": (peer, 1234), "headers": [(b"x-forwarded-for", forwarded.encode())]}

    assert client_address(scope("10.9.1.1", "198.51.100.7, 10.9.2.2"), trusted) == "198.51.100.7"
    assert client_address(scope("203.0.113.5", "198.51.100.7"), trusted) == "203.0.113.5"
    spoofed = "1.2.3.4, 198.51.100.7"  # the client put 1.2.3.4 there itself
    assert client_address(scope("10.9.1.1", spoofed), trusted) == "198.51.100.7"
    # One client, one bucket, however its address is written: ports, brackets, and an IPv6
    # client's whole /64 (it can use any address in it); a made-up hop is the proxy's.
    assert client_address(scope("10.9.1.1", "198.51.100.7:1234"), trusted) == "198.51.100.7"
    six = client_address(scope("10.9.1.1", "[2001:db8::2]:443"), trusted)
    assert six == client_address(scope("10.9.1.1", "2001:db8::ffff"), trusted) == "2001:db8::/64"
    assert client_address(scope("10.9.1.1", "not-an-address"), trusted) == "10.9.1.1"
    assert client_address(scope("2001:db8:1::5", ""), trusted) == "2001:db8:1::/64"


def test_p8_every_forwarded_for_line_counts_read_right_to_left(
    sandboxes: Sandboxes, tmp_path: Path
) -> None:
    """Behind a proxy that adds its own X-Forwarded-For line (HAProxy's `option forwardfor`),
    a client sending a line of its own first must not choose its rate-limit bucket: 650 of 650
    requests got through a limit of 600 that way when only the first line was read."""
    limits = (
        "[limits]\nrequests_per_address = 3\nrequests_per_token = 1000\nwindow_s = 60\n"
        'trusted_proxies = ["127.0.0.1/32"]\n'
    )
    config = (
        '[gateway]\nlog_level = "WARNING"\n' + limits + kibo_backend("kibo", sandboxes.url("kibo"))
    )
    with serve_process(config, tmp_path) as (url, _), httpx.Client(timeout=10) as client:
        statuses = [
            client.post(
                f"{url}/graphql",
                json={"query": "{ backends { name } }"},
                headers=[
                    ("Content-Type", "application/json"),
                    ("X-Forwarded-For", f"203.0.113.{i}"),  # the client's own line
                    ("X-Forwarded-For", "198.51.100.7"),  # the proxy's: the real client
                ],
            ).status_code
            for i in range(5)
        ]
    assert statuses == [200, 200, 200, 429, 429]


def test_p8_the_served_gateway_trusts_no_forwarded_header_from_the_loopback(
    sandboxes: Sandboxes, tmp_path: Path
) -> None:
    """As `serve` runs it: the HTTP server itself must not rewrite the client address from
    X-Forwarded-For (uvicorn trusts the loopback by default); only `trusted_proxies` may."""
    limits = "[limits]\nrequests_per_address = 3\nrequests_per_token = 1000\nwindow_s = 60\n"
    config = (
        '[gateway]\nlog_level = "WARNING"\n' + limits + kibo_backend("kibo", sandboxes.url("kibo"))
    )
    with serve_process(config, tmp_path) as (url, _):
        statuses = [
            httpx.post(
                f"{url}/graphql",
                json={"query": "{ backends { name } }"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
                timeout=10,
            ).status_code
            for i in range(5)
        ]
    assert statuses == [200, 200, 200, 429, 429]
