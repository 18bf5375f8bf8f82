"""Manifest problems are one line each, naming the config line, the file and the entry, at
start-up (`serve`) and in `check-config`; a manifest path is relative to the config file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from customer_gateway.cli import main
from customer_gateway.settings import ConfigError, load_settings, parse_settings

BACKENDS = "query Backends { backends { name } }"
DIGEST = hashlib.sha256(BACKENDS.encode()).hexdigest()


def config(manifest: Path | str, enforce: str = "true") -> str:
    return f"[gateway]\nport = 8000\n\n[trusted_documents]\nmanifest = {json.dumps(str(manifest))}\nenforce = {enforce}\n"


def problems_with(tmp_path: Path, content: str) -> list[str]:
    manifest = tmp_path / "trusted.json"
    manifest.write_text(content)
    with pytest.raises(ConfigError) as caught:
        parse_settings(config(manifest), source="gw.toml", env={})
    return caught.value.problems


def test_both_shapes_load(tmp_path: Path) -> None:
    apollo = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{"id": DIGEST, "name": "Backends", "type": "query", "body": BACKENDS}],
    }
    for shape in (apollo, {DIGEST.upper(): BACKENDS}):
        manifest = tmp_path / "trusted.json"
        manifest.write_text(json.dumps(shape))
        loaded = parse_settings(config(manifest), env={})
        assert loaded.trusted_documents == {DIGEST: BACKENDS}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not JSON"),
        ("[]", "neither a persisted-query manifest nor an id-to-document map"),
        ('{"format": "relay", "version": 1, "operations": []}', "format must be"),
        (
            '{"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}',
            "only version 1",
        ),
        (
            '{"format": "apollo-persisted-query-manifest", "version": 1, "operations": {}}',
            "must be a list",
        ),
        ("{}", "lists no documents"),
        (
            json.dumps({hashlib.sha1(BACKENDS.encode()).hexdigest(): BACKENDS}),  # noqa: S324 - a SHA-1 manifest, as GraphQL Code Generator writes by default
            "not a SHA-256 hex digest",
        ),
        (
            json.dumps({hashlib.sha256(b"other").hexdigest(): BACKENDS}),
            "not the SHA-256 of its document",
        ),
        (json.dumps({DIGEST: ""}), "not a non-empty string"),
        (json.dumps({DIGEST: {"query": BACKENDS}}), "not a non-empty string"),
    ],
)
def test_each_manifest_problem_is_one_line(tmp_path: Path, content: str, problem: str) -> None:
    problems = problems_with(tmp_path, content)
    assert len(problems) == 1
    assert problems[0].startswith(
        f"gw.toml:5: trusted_documents.manifest: {tmp_path / 'trusted.json'}: "
    )
    assert problem in problems[0]


def test_entries_are_reported_each_and_a_flood_is_cut_short(tmp_path: Path) -> None:
    operations = [
        {
            "id": hashlib.sha256(f"{i}".encode()).hexdigest(),
            "name": "X",
            "type": "query",
            "body": BACKENDS,
        }
        for i in range(30)
    ]
    operations[0] = {"id": DIGEST, "name": "Backends", "type": "query", "body": BACKENDS}
    manifest = {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
    problems = problems_with(tmp_path, json.dumps(manifest))
    assert len(problems) == 21
    assert "operations[1]: the id is not the SHA-256 of its document" in problems[0]
    assert problems[-1].endswith("and 9 more problems")


def test_a_missing_manifest_or_section_key_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(config(tmp_path / "missing.json"), source="gw.toml", env={})
    assert caught.value.problems == [
        f"gw.toml:5: trusted_documents.manifest: {tmp_path / 'missing.json'}: cannot read the file (No such file or directory)"
    ]
    with pytest.raises(ConfigError) as caught:
        parse_settings("[trusted_documents]\nenforce = true\n", source="gw.toml", env={})
    assert caught.value.problems == ["gw.toml:1: trusted_documents.manifest: Field required"]


def test_the_manifest_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "trusted.json").write_text(json.dumps({DIGEST: BACKENDS}))
    (tmp_path / "conf" / "gateway.toml").write_text(config("trusted.json"))
    loaded = load_settings(tmp_path / "conf" / "gateway.toml")
    assert loaded.trusted_documents == {DIGEST: BACKENDS}


def test_check_config_prints_manifest_problems_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "trusted.json").write_text(json.dumps({"0" * 64: BACKENDS, DIGEST: BACKENDS}))
    path = tmp_path / "gateway.toml"
    path.write_text(config("trusted.json"))
    with pytest.raises(SystemExit) as exited:
        main(["check-config", str(path)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        f"{path}:5: trusted_documents.manifest: {tmp_path / 'trusted.json'}: "
        f"'{'0' * 64}': the id is not the SHA-256 of its document\n"
    )


def test_serve_refuses_to_start_with_a_broken_manifest(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "trusted.json").write_text("{}")
    path = tmp_path / "gateway.toml"
    path.write_text(config("trusted.json"))
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "customer_gateway", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"{path}:5: trusted_documents.manifest: {tmp_path / 'trusted.json'}: lists no documents\n"
    )
