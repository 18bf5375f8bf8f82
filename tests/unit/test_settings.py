"""Config: TOML + ${ENV}, precedence, and one-line problems that name file, line and key."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from customer_gateway.cli import main
from customer_gateway.settings import ConfigError, load_settings, parse_settings

GOOD = """
[gateway]
admin_keys = ["${GATEWAY_ADMIN_KEY}"]

[backends.menu]
kind = "menu"
base_url = "http://127.0.0.1:9/api"
application = "${MENU_APPLICATION_KEY}"
auth_type = "phone"
"""
ENV = {"GATEWAY_ADMIN_KEY": "k" * 24, "MENU_APPLICATION_KEY": "a" * 32}


def test_env_references_are_interpolated_and_secrets_stay_secret() -> None:
    loaded = parse_settings(GOOD, env=ENV)
    assert loaded.admin_keys == ["k" * 24]
    menu = loaded.backends["menu"]
    assert menu.application.get_secret_value() == "a" * 32  # type: ignore[attr-defined]
    assert "a" * 32 not in repr(menu)
    assert menu.timeout_s == 10.0 and menu.connect_timeout_s == 3.0  # type: ignore[attr-defined]


def test_defaults_apply_when_sections_are_missing() -> None:
    loaded = parse_settings("", env={})
    assert loaded.settings.store.url == "memory://"
    assert loaded.settings.gateway.introspection is False
    assert loaded.settings.gateway.graphiql_enabled is False
    assert loaded.backends == {}


def test_env_default_syntax() -> None:
    text = GOOD.replace("${MENU_APPLICATION_KEY}", "${MISSING_KEY:-" + "b" * 32 + "}")
    loaded = parse_settings(text, env=ENV)
    assert loaded.backends["menu"].application.get_secret_value() == "b" * 32  # type: ignore[attr-defined]


def test_missing_env_variable_names_line_and_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(GOOD, source="gw.toml", env={"GATEWAY_ADMIN_KEY": "k" * 24})
    assert caught.value.problems == [
        "gw.toml:8: backends.menu.application: environment variable MENU_APPLICATION_KEY is not set"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('auth_type = "phone"', 'auth_type = "sms"'), "gw.toml:9: backends.menu.auth_type: "),
        (('kind = "menu"', 'kind = "nope"'), "gw.toml:6: backends.menu.kind: unknown kind 'nope'"),
        (('auth_type = "phone"', "colour = 1"), "gw.toml:9: backends.menu.colour: unknown key"),
        (
            ('base_url = "http://127.0.0.1:9/api"', 'base_url = "nope"'),
            "gw.toml:7: backends.menu.base_url",
        ),
        (("[backends.menu]", "[backends.Menu]"), "gw.toml:5: backends.Menu: backend names"),
    ],
)
def test_problems_are_one_precise_line(change: tuple[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(GOOD.replace(*change), source="gw.toml", env=ENV)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(expected), caught.value.problems
    assert "Traceback" not in str(caught.value)


def test_loyalty_link_must_name_a_configured_backend() -> None:
    text = GOOD + 'loyalty = "points"\n'
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, source="gw.toml", env=ENV)
    assert caught.value.problems == ["gw.toml:10: backends.menu.loyalty: no backend named 'points'"]


def test_short_admin_keys_are_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(GOOD, env={**ENV, "GATEWAY_ADMIN_KEY": "short"})
    assert "gateway.admin_keys" in caught.value.problems[0]


def test_environment_overrides_the_file() -> None:
    text = GOOD.replace("[gateway]", "[gateway]\nintrospection = false")
    env = {
        **ENV,
        "CUSTOMER_GATEWAY_GATEWAY__INTROSPECTION": "true",
        "customer_gateway_gateway__port": "9001",  # any case, as the shell allows
        "CUSTOMER_GATEWAY_GATEWAY__ADMIN_KEYS": '["' + "e" * 20 + '", "' + "f" * 20 + '"]',
        "CUSTOMER_GATEWAY_BACKENDS__MENU__TIMEOUT_S": "2.5",
    }
    loaded = parse_settings(text, env=env)
    assert loaded.settings.gateway.introspection is True
    assert loaded.settings.gateway.port == 9001
    assert loaded.admin_keys == ["e" * 20, "f" * 20]
    assert loaded.backends["menu"].timeout_s == 2.5  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("CUSTOMER_GATEWAY_CORSS__ALLOW_ORIGINS", "unknown section 'corss'"),
        ("CUSTOMER_GATEWAY_GATEWAY__CORS_ORIGINS", "gateway.cors_origins: unknown key"),
        ("CUSTOMER_GATEWAY_STORE__URL__HOST", "name one key: CUSTOMER_GATEWAY_STORE__<KEY>"),
        ("CUSTOMER_GATEWAY_GATEWAY", "name one key"),
        ("CUSTOMER_GATEWAY_BACKENDS__MENU", "name a backend and a key"),
        ("CUSTOMER_GATEWAY_BACKENDS__MENU__COLOUR", "backends.menu.colour: unknown key"),
    ],
)
def test_environment_overrides_naming_nothing_are_refused(variable: str, expected: str) -> None:
    """As the file does: a misspelt section or key is an error, not silently ignored."""
    with pytest.raises(ConfigError) as caught:
        parse_settings(GOOD, source="gw.toml", env={**ENV, variable: "1"})
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{variable}: "), caught.value.problems
    assert expected in caught.value.problems[0]


def test_the_issues_cors_variable_is_refused_naming_it() -> None:
    env = {**ENV, "CUSTOMER_GATEWAY_CORS__ORIGINS": "https://shop.example.com"}
    with pytest.raises(ConfigError) as caught:
        parse_settings(GOOD, source="gw.toml", env=env)
    assert caught.value.problems[0].startswith("CUSTOMER_GATEWAY_CORS__ORIGINS: ")


def test_a_bad_value_from_the_environment_names_the_variable_not_the_file() -> None:
    text = GOOD.replace("[gateway]", "[gateway]\nport = 8000")
    env = {**ENV, "CUSTOMER_GATEWAY_GATEWAY__PORT": "eighty"}
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, source="gw.toml", env=env)
    assert caught.value.problems == [
        "CUSTOMER_GATEWAY_GATEWAY__PORT: gateway.port: Input should be a valid integer,"
        " unable to parse string as an integer"
    ]


def test_workers_need_a_shared_store_one_line_naming_store_url() -> None:
    text = GOOD.replace("[gateway]", "[gateway]\nworkers = 2")
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, source="gw.toml", env=ENV)
    assert caught.value.problems == [
        "gw.toml: store.url: memory:// is one process's memory; 2 workers need a shared store"
        " (redis://host:port/db)"
    ]
    shared = (
        text + '\n[store]\nurl = "redis://127.0.0.1:6379/0"\n[otp]\nsecret = "' + "s" * 20 + '"\n'
    )
    assert parse_settings(shared, env=ENV).settings.gateway.workers == 2


def test_flags_override_file_and_environment() -> None:
    env = {**ENV, "CUSTOMER_GATEWAY_GATEWAY__PORT": "9001"}
    loaded = parse_settings(GOOD, env=env, flags={"port": 9002, "host": None})
    assert loaded.settings.gateway.port == 9002 and loaded.settings.gateway.host == "127.0.0.1"
    with pytest.raises(ConfigError) as caught:
        parse_settings(GOOD, env=ENV, flags={"port": 70000})
    assert caught.value.problems[0].startswith("--port: gateway.port: ")


def test_invalid_toml_is_reported_with_the_file_name() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings("[gateway\n", source="gw.toml", env={})
    assert caught.value.problems[0].startswith("gw.toml: ")


def test_check_config_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    good = tmp_path / "good.toml"
    good.write_text(GOOD)
    assert main(["check-config", str(good)]) == 0
    assert "ok; backends: menu (menu)" in capsys.readouterr().out

    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace('"phone"', '"fax"'))
    with pytest.raises(SystemExit) as exited:
        main(["check-config", str(bad)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}:9: backends.menu.auth_type:")
    assert err.count("\n") == 1


def test_unreadable_file() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings("/nonexistent/gateway.toml")
    assert caught.value.problems[0].startswith("/nonexistent/gateway.toml: cannot read")


def test_overrides_reach_an_optional_section(tmp_path: Path) -> None:
    manifest = tmp_path / "trusted.json"
    document = "{ __typename }"
    manifest.write_text(json.dumps({hashlib.sha256(document.encode()).hexdigest(): document}))
    text = GOOD + f'\n[trusted_documents]\nmanifest = "{manifest}"\n'
    env = {**ENV, "CUSTOMER_GATEWAY_TRUSTED_DOCUMENTS__ENFORCE": "false"}
    trusted = parse_settings(text, env=env).settings.trusted_documents
    assert trusted is not None and trusted.enforce is False
    wrong = {**ENV, "CUSTOMER_GATEWAY_TRUSTED_DOCUMENTS__ENFORCED": "false"}
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, env=wrong)
    assert caught.value.problems == [
        "CUSTOMER_GATEWAY_TRUSTED_DOCUMENTS__ENFORCED: trusted_documents.enforced: unknown key"
    ]
