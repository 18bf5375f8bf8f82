"""GraphiQL in a real (headless) Chromium against the demo: sign in, then ask who we are."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from customer_gateway.demo import Demo, build_demo
from support.browser import CHROMIUM_FLAGS, chromium
from support.live import LiveServer, bind_free
from support.node_tools import install

SIGN_IN = 'mutation SignIn { signIn(backend: "menu", username: "ada.lovelace@example.com", password: "menu-demo-pass") { token { accessToken } customer { email firstName } } }'
ME = 'query Me { me(backend: "menu") { email firstName lastName loyalty { points level { name } } } }'


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    assets = install() / "node_modules"
    sock = bind_free()
    demo = build_demo(f"http://127.0.0.1:{sock.getsockname()[1]}", graphiql_assets=str(assets))
    with LiveServer(demo.app, sock):
        yield demo


def run_in_graphiql(page: object, url: str) -> str:
    """Open GraphiQL on `url`, press Run, and return the result pane's text."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(url)
    page.locator(".graphiql-execute-button").click()
    result = page.locator(".result-window")
    expect(result).to_contain_text('"data"', timeout=15_000)
    return str(result.inner_text())


def access_token(text: str) -> str:
    match = re.search(r'"accessToken":\s*"([^"]+)"', text)
    assert match is not None, text
    return match.group(1)


def test_sign_in_and_me_in_graphiql(demo: Demo, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            failed: list[str] = []
            # A request the next navigation cancels (an introspection still running on a slow
            # machine) fails as ERR_ABORTED: that is the page going away, not a broken asset.
            page.on(
                "requestfailed",
                lambda request: (
                    None if request.failure == "net::ERR_ABORTED" else failed.append(request.url)
                ),
            )

            page.goto(f"{demo.base_url}/graphql")
            editor = page.locator(".graphiql-query-editor")
            assert "mutation SignIn" in editor.inner_text(timeout=15_000)  # the walk-through

            signed = run_in_graphiql(page, f"{demo.base_url}/graphql?q={quote(SIGN_IN)}")
            assert "ada.lovelace@example.com" in signed
            token = access_token(signed)

            headers = json.dumps({"Authorization": f"Bearer {token}"})
            me = run_in_graphiql(
                page, f"{demo.base_url}/graphql?q={quote(ME)}&headers={quote(headers)}"
            )
            assert '"email": "ada.lovelace@example.com"' in me
            assert '"points": 1720' in me
            page.screenshot(path=str(tmp_path / "graphiql.png"))
            if target := os.environ.get("GRAPHIQL_SCREENSHOT"):
                page.screenshot(path=target)
            assert (tmp_path / "graphiql.png").stat().st_size > 10_000
            assert [url for url in failed if url.startswith(demo.base_url)] == []
        finally:
            browser.close()


def run_operation(page: object, name: str, expected: str) -> str:
    """Press Run, choose `name` among the document's operations, and return the result text."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.locator(".graphiql-execute-button").click()
    page.get_by_role("menuitem", name=name, exact=True).click()
    result = page.locator(".result-window")
    expect(result).to_contain_text(expected, timeout=15_000)
    return str(result.inner_text())


def set_headers(page: object, headers: dict[str, str]) -> None:
    """Type the headers into GraphiQL's Headers tab, replacing what is there."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.get_by_role("button", name="Headers", exact=True).click()
    page.locator(".graphiql-editor-tool .graphiql-editor:visible .CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(json.dumps(headers))


def test_the_walkthrough_in_graphiql_operation_by_operation(demo: Demo) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{demo.base_url}/graphql")
            assert "query Me" in page.locator(".graphiql-query-editor").inner_text(timeout=15_000)

            signed = run_operation(page, "SignIn", '"accessToken"')
            first = access_token(signed)
            set_headers(page, {"Authorization": f"Bearer {first}"})
            me = run_operation(page, "Me", '"pointsToNextLevel"')
            assert '"email": "ada.lovelace@example.com"' in me and '"points": 1720' in me

            refreshed = run_operation(page, "Refresh", '"accessToken"')
            second = access_token(refreshed)
            assert second != first
            set_headers(page, {"Authorization": f"Bearer {second}"})
            again = run_operation(page, "Me", '"pointsToNextLevel"')
            assert '"email": "ada.lovelace@example.com"' in again
        finally:
            browser.close()
