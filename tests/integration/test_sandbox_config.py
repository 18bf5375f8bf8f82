"""`sandbox` + `serve`, as a frontend developer runs them: the sandbox prints a ready config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from customer_gateway.cli import main
from customer_gateway.demo import DEMO_ADMIN_KEY
from support.graphql import gql
from support.live import free_port, serve_process

SIGN_IN = "mutation($b: String!, $u: String!, $p: String!) { signIn(backend: $b, username: $u, password: $p) { token { accessToken } customer { email } userErrors { code } } }"
CLI = [sys.executable, "-m", "customer_gateway"]


@pytest.fixture
def sandbox() -> Iterator[str]:
    """`customer-gateway sandbox` in its own process on a free port."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [*CLI, "sandbox", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/sandbox/menu/_sandbox/journal", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        if process.stdout is not None:
            assert "--print-config --url " + url in process.stdout.read()  # its banner says how
            process.stdout.close()


def test_printed_config_serves_every_sandbox_backend(
    sandbox: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = sandbox.rsplit(":", 1)[1]
    assert main(["sandbox", "--port", port, "--print-config"]) == 0
    config = capsys.readouterr().out
    assert main(["sandbox", "--url", sandbox, "--print-config"]) == 0
    assert capsys.readouterr().out == config
    with (
        serve_process(config, tmp_path) as (url, _),
        httpx.Client(base_url=url, timeout=20) as client,
    ):
        backends = gql(client, "{ backends { name kind healthy } }")["data"]["backends"]
        assert {(b["name"], b["kind"]) for b in backends} == {
            ("menu", "MENU"),
            ("menu-phone", "MENU"),
            ("kibo", "KIBO"),
            ("loyalty", "OPEN_LOYALTY"),
        }
        for backend, password in (
            ("menu", "menu-demo-pass"),
            ("kibo", "kibo-demo-pass"),
            ("loyalty", "loyalty-demo-pass"),
        ):
            variables = {"b": backend, "u": "ada.lovelace@example.com", "p": password}
            signed = gql(client, SIGN_IN, variables)["data"]["signIn"]
            assert (
                signed["userErrors"] == []
                and signed["customer"]["email"] == "ada.lovelace@example.com"
            )
        token = gql(
            client, SIGN_IN, {"b": "menu", "u": "ada.lovelace@example.com", "p": "menu-demo-pass"}
        )
        me = gql(
            client,
            '{ me(backend: "menu") { loyalty { points } } }',
            token=token["data"]["signIn"]["token"]["accessToken"],
        )
        assert me["data"]["me"]["loyalty"]["points"] == 1720  # linked with the admin user
        members = gql(
            client,
            '{ customers(backend: "kibo", first: 1) { totalCount } }',
            admin_key=DEMO_ADMIN_KEY,
        )
        assert members["data"]["customers"]["totalCount"] > 1  # Kibo's client id and secret
