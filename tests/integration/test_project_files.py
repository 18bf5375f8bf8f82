"""Top-level files agree with the code: schema.graphql, README commands, walk-through, CLI."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from customer_gateway.cli import main
from customer_gateway.demo import walkthrough_document

ROOT = Path(__file__).parents[2]


def test_schema_file_equals_export_schema(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["export-schema"]) == 0
    assert capsys.readouterr().out == (ROOT / "schema.graphql").read_text()


def test_schema_keeps_the_contract_names() -> None:
    sdl = (ROOT / "schema.graphql").read_text()
    for name in (
        'type Customer @key(fields: "id")',
        "enum BackendKind",
        "me(backend: String!): Customer!",
        "customer(id: ID!): Customer",
        "signIn(backend: String!, username: String!, password: String!): AuthPayload!",
        "confirmPhoneNumberChange(id: ID!, code: String!): CustomerPayload!",
        "assignLevel(id: ID!, levelId: ID!): CustomerPayload!",
    ):
        assert name in sdl, name


def test_readme_shows_the_walkthrough_graphiql_opens_with() -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"```graphql\n{walkthrough_document()}```" in readme


def test_ci_runs_the_readmes_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"## Run the tests.*?```sh\n(.+?)\n```", readme, re.S)
    assert match is not None
    command = match.group(1)
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_python_dash_m_is_the_same_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "customer_gateway", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for command in ("serve", "demo", "sandbox", "export-schema", "check-config"):
        assert command in result.stdout


def test_example_config_is_valid(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GATEWAY_ADMIN_KEY", "x" * 20)
    monkeypatch.setenv("MENU_APPLICATION_KEY", "a" * 32)
    assert main(["check-config", str(ROOT / "examples" / "gateway.toml")]) == 0


def test_every_graphql_example_in_the_readme_is_valid() -> None:
    from graphql import parse, validate

    from customer_gateway.api.schema import SchemaOptions, build_schema

    schema = build_schema(SchemaOptions(introspection=True))._schema
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```graphql\n(.+?)```", readme, re.S)
    assert len(blocks) >= 2
    for block in blocks:
        assert validate(schema, parse(block)) == [], block[:80]


def test_the_readmes_contract_example_uses_the_kit_as_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The plugin author's example, run against a stand-in for the plugin's sandbox module."""
    from customer_gateway.testing import ConnectorCase, ConnectorContract

    readme = (ROOT / "README.md").read_text()
    (example,) = re.findall(r"```python\n(# tests/test_contract\.py.+?)```", readme, re.S)
    sandbox = types.ModuleType("acme_gateway.sandbox")
    sandbox.AcmeSandbox = object  # type: ignore[attr-defined]
    sandbox.DEMO_API_KEY = "demo-key"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "acme_gateway", types.ModuleType("acme_gateway"))
    monkeypatch.setitem(sys.modules, "acme_gateway.sandbox", sandbox)
    namespace: dict[str, object] = {}
    exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    contract = namespace["TestAcmeConnector"]
    assert isinstance(contract, type) and issubclass(contract, ConnectorContract)
    (case,) = contract.cases
    assert isinstance(case, ConnectorCase) and case.backend == "acme"
    assert case.settings("http://127.0.0.1:1") == {
        "base_url": "http://127.0.0.1:1/api",
        "api_key": "demo-key",
    }
