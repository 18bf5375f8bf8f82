"""[cors]: preflights answered before every refusal, every answer to an allowed origin readable
by the browser app (refusals from the edge included), and nothing for any other origin."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from starlette.testclient import TestClient

from conftest import GatewayFactory, Sandboxes, menu_backend
from customer_gateway.settings import ConfigError, parse_settings

APP = "https://shop.example.com"
ME = '{ me(backend: "menu") { email } }'
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type,x-api-key,apollo-require-preflight,x-apollo-operation-name,x-request-id",
}


def cors_gateway(
    make_gateway: GatewayFactory,
    sandboxes: Sandboxes,
    origins: str = f'["{APP}"]',
    extra: str = "",
    gateway: str = "introspection = false",
) -> TestClient:
    return make_gateway(
        menu_backend("menu", sandboxes.url("menu")),
        gateway=gateway,
        extra=f"{extra}\n[cors]\nallow_origins = {origins}\n",
    )


@pytest.fixture
def client(make_gateway: GatewayFactory, sandboxes: Sandboxes) -> TestClient:
    return cors_gateway(make_gateway, sandboxes)


def vary(response: httpx.Response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("vary", "").split(",")}


def readable_by(response: httpx.Response, origin: str) -> bool:
    """What a browser checks before it hands an answer to the page's script."""
    exposed = {
        h.strip().lower()
        for h in response.headers.get("access-control-expose-headers", "").split(",")
    }
    return (
        response.headers.get("access-control-allow-origin") == origin
        and "origin" in vary(response)
        and {"x-request-id", "retry-after"} <= exposed
    )


def test_a_preflight_from_an_allowed_origin_is_answered_before_csrf_and_405(
    client: TestClient, sandboxes: Sandboxes
) -> None:
    response = client.options("/graphql", headers={"Origin": APP, **PREFLIGHT})
    assert 200 <= response.status_code < 300, response.text
    assert response.headers["access-control-allow-origin"] == APP
    methods = {m.strip() for m in response.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST"} <= methods
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert set(PREFLIGHT["Access-Control-Request-Headers"].split(",")) <= allowed
    assert response.headers["access-control-max-age"] == "600"
    assert "origin" in vary(response)
    assert sandboxes.menu.journal.count() == 0


def test_a_preflight_from_another_origin_gets_no_allow_origin(client: TestClient) -> None:
    for origin in ("https://evil.example.com", "https://shop.example.com.evil.com", "null"):
        response = client.options("/graphql", headers={"Origin": origin, **PREFLIGHT})
        assert "access-control-allow-origin" not in response.headers, origin


def test_a_preflight_for_a_header_not_on_the_list_fails(client: TestClient) -> None:
    headers = {"Origin": APP, "Access-Control-Request-Method": "POST"}
    response = client.options(
        "/graphql", headers={**headers, "Access-Control-Request-Headers": "x-forwarded-for"}
    )
    assert response.status_code >= 400


# Each request gets a different answer from a different layer: the view, the CSRF rule, the
# view's 405, the rate limit (429), the body cap (413).
ANSWERS: dict[str, Callable[[TestClient, dict[str, str]], httpx.Response]] = {
    "data": lambda c, h: c.post("/graphql", json={"query": "{ backends { name } }"}, headers=h),
    "unauthenticated": lambda c, h: c.post("/graphql", json={"query": ME}, headers=h),
    "csrf": lambda c, h: c.post(
        "/graphql", content=b"{}", headers={**h, "Content-Type": "text/plain"}
    ),
    "405": lambda c, h: c.put("/graphql", json={"query": ME}, headers=h),
    "413": lambda c, h: c.post(
        "/graphql",
        content=b"{" + b" " * 5000 + b"}",
        headers={**h, "Content-Type": "application/json"},
    ),
}


@pytest.mark.parametrize("answer", sorted(ANSWERS))
def test_every_answer_to_an_allowed_origin_is_readable_and_others_are_not(
    make_gateway: GatewayFactory, sandboxes: Sandboxes, answer: str
) -> None:
    client = cors_gateway(make_gateway, sandboxes, gateway="max_body_bytes = 4096")
    assert readable_by(ANSWERS[answer](client, {"Origin": APP}), APP)
    other = ANSWERS[answer](client, {"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in other.headers
    assert "access-control-allow-origin" not in ANSWERS[answer](client, {}).headers


def test_a_rate_limited_answer_is_readable_with_its_retry_after(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    client = cors_gateway(
        make_gateway, sandboxes, extra="[limits]\nrequests_per_address = 1\nwindow_s = 600"
    )
    headers = {"Origin": APP}
    client.post("/graphql", json={"query": "{ backends { name } }"}, headers=headers)
    limited = client.post("/graphql", json={"query": "{ backends { name } }"}, headers=headers)
    assert limited.status_code == 429
    assert readable_by(limited, APP) and int(limited.headers["retry-after"]) > 0


def test_any_port_origins_match_that_scheme_and_host_only(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    client = cors_gateway(
        make_gateway, sandboxes, origins='["http://localhost:*", "http://127.0.0.1:*"]'
    )
    for origin in ("http://localhost:5173", "http://localhost", "http://127.0.0.1:8899"):
        response = client.options("/graphql", headers={"Origin": origin, **PREFLIGHT})
        assert response.headers.get("access-control-allow-origin") == origin, origin
    for origin in (
        "https://localhost:5173",  # another scheme
        "http://localhost.evil.com:5173",
        "http://localhost:5173.evil.com",
        "http://127a0a0a1:8899",  # the dots are dots, not "any character"
        "http://evil-localhost:80",
        "http://localhost:5173/",
    ):
        response = client.options("/graphql", headers={"Origin": origin, **PREFLIGHT})
        assert "access-control-allow-origin" not in response.headers, origin


def test_without_a_cors_section_no_origin_gets_anything(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    client = make_gateway(menu_backend("menu", sandboxes.url("menu")))
    preflight = client.options("/graphql", headers={"Origin": APP, **PREFLIGHT})
    assert preflight.status_code == 405
    answer = client.post(
        "/graphql", json={"query": "{ backends { name } }"}, headers={"Origin": APP}
    )
    assert not any(name.startswith("access-control-") for name in answer.headers)


def test_credentials_are_allowed_only_for_exact_origins(
    make_gateway: GatewayFactory, sandboxes: Sandboxes
) -> None:
    client = cors_gateway(make_gateway, sandboxes, extra="")
    assert (
        "access-control-allow-credentials"
        not in client.post(
            "/graphql", json={"query": "{ backends { name } }"}, headers={"Origin": APP}
        ).headers
    )
    with_credentials = make_gateway(
        menu_backend("menu", sandboxes.url("menu")),
        extra=f'[cors]\nallow_origins = ["{APP}"]\nallow_credentials = true\n',
    )
    answer = with_credentials.post(
        "/graphql", json={"query": "{ backends { name } }"}, headers={"Origin": APP}
    )
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert answer.headers["access-control-allow-origin"] == APP


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ('allow_origins = ["*"]\nallow_credentials = true', "exact origins"),
        ('allow_origins = ["https://shop.example.com/"]', "is not an origin"),
        ('allow_origins = ["https://shop.example.com/app"]', "is not an origin"),
        ('allow_origins = ["null"]', "is not an origin"),
        ('allow_origins = ["shop.example.com"]', "is not an origin"),
        ("max_age_s = -1", "greater than or equal to 0"),
        ("origins = []", "unknown key"),
    ],
)
def test_cors_mistakes_are_config_errors(section: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(f"[cors]\n{section}\n", source="gw.toml", env={})
    assert len(caught.value.problems) == 1
    line = caught.value.problems[0]
    assert line.startswith("gw.toml:") and "cors" in line and problem in line, line


def test_origins_are_kept_as_browsers_send_them() -> None:
    loaded = parse_settings(
        '[cors]\nallow_origins = ["HTTPS://Shop.Example.com:443", "http://a.test:80", "http://b.test:8080"]\n',
        env={},
    )
    assert loaded.settings.cors.allow_origins == [
        "https://shop.example.com",
        "http://a.test",
        "http://b.test:8080",
    ]


def test_preflight_answers_are_an_empty_204_or_a_graphql_error_body(client: TestClient) -> None:
    allowed = client.options("/graphql", headers={"Origin": APP, **PREFLIGHT})
    assert allowed.status_code == 204 and allowed.content == b""
    assert allowed.headers["access-control-allow-origin"] == APP
    refused = client.options(
        "/graphql", headers={"Origin": "https://evil.example.net", **PREFLIGHT}
    )
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/json"
    assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert refused.headers["x-request-id"]
    assert "access-control-allow-origin" not in refused.headers
