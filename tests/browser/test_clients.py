"""Apollo Client and urql in a real Chromium, on a page served from another origin than the
gateway: sign in, `me` with the token, refresh, an admin query with the key; the same page from an
origin that is not allowed is blocked by the browser; and with trusted documents enforced, Apollo
Client's persisted-query link sends only the hashes of a manifest written by Apollo's own tool.

The page (tests/browser/page/) is built the way a frontend team builds one: its documents are
read by `@apollo/generate-persisted-query-manifest`, and esbuild bundles it with the packages
pinned in tests/browser/package-lock.json.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from conftest import ADMIN_KEY, LiveGatewayFactory, Sandboxes, loyalty_backend, menu_backend
from customer_gateway.demo import DEMO_ADMIN_KEY, Demo, build_demo
from support.browser import CHROMIUM_FLAGS, chromium
from support.live import LiveServer, bind_free
from support.node_tools import BROWSER, install, require

BLOCKED_HOST = "blocked.test"  # resolved to 127.0.0.1 by the browser alone (see `browser`)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built page: index.html, bundle.js and the manifest Apollo's tool wrote for it."""
    node = require("node")
    installed = install(BROWSER)
    work = tmp_path_factory.mktemp("frontend")
    shutil.copytree(BROWSER / "page", work / "page")
    shutil.copyfile(
        BROWSER / "persisted-query-manifest.config.json",
        work / "persisted-query-manifest.config.json",
    )
    (work / "node_modules").symlink_to(installed / "node_modules")
    tools = work / "node_modules"
    run = {"cwd": work, "check": True, "timeout": 300, "capture_output": True}
    subprocess.run(  # noqa: S603 - node from the PATH, the pinned tool
        [node, tools / "@apollo/generate-persisted-query-manifest/cli.js"], **run
    )
    subprocess.run(  # noqa: S603 - node from the PATH, the pinned bundler
        [
            node,
            tools / "esbuild/bin/esbuild",
            "page/main.js",
            "--bundle",
            "--format=esm",
            "--platform=browser",
            '--define:process.env.NODE_ENV="production"',
            "--outfile=site/bundle.js",
            "--log-level=warning",
        ],
        **run,
    )
    shutil.copyfile(work / "page/index.html", work / "site/index.html")
    shutil.copyfile(work / "trusted-documents.json", work / "site/trusted-documents.json")
    return work / "site"


@pytest.fixture(scope="module")
def page_server(site: Path) -> Iterator[LiveServer]:
    """The page's own origin: another port than any gateway's."""
    with LiveServer(
        Starlette(routes=[Mount("/", StaticFiles(directory=site, html=True))])
    ) as server:
        yield server


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    sock = bind_free()
    demo = build_demo(f"http://127.0.0.1:{sock.getsockname()[1]}")
    with LiveServer(demo.app, sock):
        yield demo


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium()
    flags = [*CHROMIUM_FLAGS, f"--host-resolver-rules=MAP {BLOCKED_HOST} 127.0.0.1"]
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=flags)
        try:
            yield launched
        finally:
            launched.close()


def open_page(browser: Any, url: str) -> Any:
    page = browser.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    return page


def call(page: Any, client: str, *args: object) -> dict[str, Any]:
    """Run one of the page's flows; its result, or the error it ended with."""
    outcome: dict[str, Any] = page.evaluate(
        """([client, args]) => window.clients[client](...args).then(
            (result) => ({ result }), (error) => ({ error: String(error) }))""",
        [client, list(args)],
    )
    return outcome


def test_apollo_client_and_urql_on_an_allowed_origin(
    demo: Demo, page_server: LiveServer, browser: Any
) -> None:
    page = open_page(browser, f"{page_server.url}/")  # http://127.0.0.1:<another port>
    uri = f"{demo.base_url}/graphql"
    sent: list[tuple[str, str]] = []
    page.on("request", lambda r: sent.append((r.method, r.url)) if r.url.startswith(uri) else None)
    expected = {
        "email": "ada.lovelace@example.com",
        "points": 1720,
        "refreshed": True,
        "emailAfterRefresh": "ada.lovelace@example.com",
        "members": 1,
    }
    assert call(page, "apolloFlow", uri, DEMO_ADMIN_KEY) == {"result": expected}
    # Apollo Client's GETs carry Content-Type: application/json, which a browser preflights
    sent.clear()
    got = call(page, "apolloFlow", uri, DEMO_ADMIN_KEY, {"useGETForQueries": True})
    assert got == {"result": expected}
    assert [method for method, _ in sent].count("GET") == 3  # Me, Me, Members
    # urql as the README configures it; its default GETs are simple requests, refused as CSRF
    assert call(page, "urqlFlow", uri, DEMO_ADMIN_KEY, {"preferGetMethod": False}) == {
        "result": expected
    }
    refused = call(page, "urqlFlow", uri, DEMO_ADMIN_KEY)
    assert "Cross-Site Request Forgery" in refused["error"]
    raw = call(page, "rawFetch", uri, {"query": "{ backends { name } }"})["result"]
    assert raw["status"] == 200 and raw["requestId"]  # an exposed header the page can read
    page.close()


def test_the_same_page_from_an_origin_not_allowed_is_blocked(
    demo: Demo, page_server: LiveServer, browser: Any
) -> None:
    page = open_page(browser, f"http://{BLOCKED_HOST}:{page_server.port}/")
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    demo.menu.journal.clear()
    uri = f"{demo.base_url}/graphql"
    for client in ("apolloFlow", "urqlFlow"):
        assert "Failed to fetch" in call(page, client, uri, DEMO_ADMIN_KEY, {})["error"]
    assert (
        "Failed to fetch"
        in call(page, "rawFetch", uri, {"query": "{ backends { name } }"})["error"]
    )
    deadline = time.monotonic() + 15
    while not any("blocked by CORS policy" in text for text in console):
        assert time.monotonic() < deadline, console
        page.wait_for_timeout(50)  # console messages arrive as events
    assert demo.menu.journal.count() == 0  # the preflight failed: no sign-in was ever sent
    page.close()


def test_apollo_persisted_query_link_sends_only_hashes_of_trusted_documents(
    site: Path,
    page_server: LiveServer,
    browser: Any,
    make_live_gateway: LiveGatewayFactory,
    sandboxes: Sandboxes,
) -> None:
    manifest = json.loads((site / "trusted-documents.json").read_text())
    assert manifest["format"] == "apollo-persisted-query-manifest"
    assert {op["name"] for op in manifest["operations"]} == {"SignIn", "Me", "Refresh", "Members"}
    gateway = make_live_gateway(
        menu_backend("menu", sandboxes.url("menu"), extra='loyalty = "loyalty"')
        + loyalty_backend("loyalty", sandboxes.url("loyalty")),
        extra=f"""
[cors]
allow_origins = ["{page_server.url}"]

[trusted_documents]
manifest = {json.dumps(str(site / "trusted-documents.json"))}
enforce = true
""",
    )
    page = open_page(browser, f"{page_server.url}/")
    uri = f"{gateway.url}/graphql"
    bodies: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: bodies.append(json.loads(r.post_data or "{}")) if r.url == uri else None,
    )
    got = call(page, "apolloFlow", uri, ADMIN_KEY)
    assert got["result"]["email"] == "ada.lovelace@example.com", got
    assert got["result"]["members"] == 1 and got["result"]["refreshed"] is True
    assert len(bodies) == 5
    for body in bodies:
        assert "query" not in body and len(body["extensions"]["persistedQuery"]["sha256Hash"]) == 64
    # anything else is refused, and the refusal is readable by the page
    unlisted = {"query": "{ backends { name } }"}
    for headers in ({}, {"x-api-key": ADMIN_KEY}):
        raw = call(page, "rawFetch", uri, unlisted, headers)["result"]
        assert raw["status"] == 403 and raw["requestId"]
        assert raw["body"]["errors"][0]["extensions"]["code"] == "QUERY_NOT_IN_SAFELIST"
    page.close()
