"""The command line: every option says what it does; the demo stays on loopback unless asked."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from customer_gateway.cli import build_parser, main


def commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (subparsers,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"customer-gateway": parser, **subparsers.choices}


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_option_and_argument_has_a_help_line(name: str) -> None:
    undocumented = [
        action.dest
        for action in commands()[name]._actions
        if not action.help or action.help == argparse.SUPPRESS
    ]
    assert undocumented == []


def test_check_config_help_explains_its_argument(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check-config", "--help"])
    out = capsys.readouterr().out
    assert "FILE        path to the gateway.toml to check" in out
    assert "one line per problem" in out


@pytest.mark.parametrize("command", ["demo", "sandbox"])
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "gateway.example.com"])  # noqa: S104
def test_sandboxes_refuse_a_non_loopback_host_and_say_why(
    command: str, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--host", host, "--port", "0"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"refusing --host {host}" in err
    assert "clear-text passwords and tokens" in err and "unauthenticated" in err
    assert "--allow-remote" in err


def test_allow_remote_lets_it_bind_where_asked() -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: past the check, the bind fails.
    with pytest.raises(OSError, match="assign"):
        main(["sandbox", "--host", "192.0.2.1", "--port", "0", "--allow-remote"])


def test_the_demo_on_loopback_starts_as_before() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "customer_gateway", "demo", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("customer-gateway demo")
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stdout is not None:
            process.stdout.close()
