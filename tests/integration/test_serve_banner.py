"""`serve` says where it listens and what it serves, in one block, with no credentials."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from conftest import Sandboxes, menu_backend
from customer_gateway.banner import without_credentials
from support.live import serve_process

SECRET = "s3cret-pass-not-for-the-banner"
CONFIG = f"""[gateway]
{{gateway}}
admin_keys = ["banner-admin-key-0123456789"]
[store]
url = "redis://gateway:{SECRET}@127.0.0.1:6390/2?password={SECRET}"
[otp]
secret = "banner-otp-secret-0123456789"
"""


def test_json_banner_names_address_backends_store_and_switches(
    sandboxes: Sandboxes, tmp_path: Path
) -> None:
    base = sandboxes.url("menu").replace("http://", f"http://ops:{SECRET}@")
    manifest = tmp_path / "trusted.json"
    manifest.write_text(
        json.dumps({hashlib.sha256(b"{ __typename }").hexdigest(): "{ __typename }"})
    )
    config = (
        CONFIG.format(gateway="graphiql = true")
        + '[cors]\nallow_origins = ["https://shop.example.com"]\n'
        + f'[trusted_documents]\nmanifest = "{manifest}"\n'
        + menu_backend("menu", base)
    )
    with serve_process(config, tmp_path) as (url, _):
        first = (tmp_path / "serve.stdout").read_text().splitlines()[0]
    banner = json.loads(first)
    assert banner["message"] == "serving" and banner["level"] == "INFO"
    assert banner["address"] == f"{url}/graphql"
    assert banner["backends"] == {"menu": {"kind": "menu", "url": sandboxes.url("menu")}}
    assert banner["store"] == "redis://127.0.0.1:6390/2"
    assert banner["workers"] == 1 and banner["admin_keys"] == 1
    assert (banner["introspection"], banner["graphiql"], banner["persisted_queries"]) == (
        False,
        True,
        True,
    )
    assert banner["cors"] == ["https://shop.example.com"]
    assert banner["trusted_documents"] == {"documents": 1, "enforce": True}
    printed = (tmp_path / "serve.stdout").read_text() + (tmp_path / "serve.stderr").read_text()
    assert SECRET not in printed


def test_text_banner_when_logs_are_text(sandboxes: Sandboxes, tmp_path: Path) -> None:
    config = CONFIG.format(gateway="log_json = false") + menu_backend("menu", sandboxes.url("menu"))
    with serve_process(config, tmp_path) as (url, _):
        text = (tmp_path / "serve.stdout").read_text()
    assert text.splitlines()[:7] == [
        f"customer-gateway 0.1.0 serving {url}/graphql",
        f"  backends:  menu (menu) {sandboxes.url('menu')}",
        "  store:     redis://127.0.0.1:6390/2",
        "  introspection: off   graphiql: off   persisted queries: on",
        "  cors:      off",
        "  trusted documents: off",
        "  admin keys: 1",
    ]
    assert SECRET not in text


def test_urls_lose_every_credential() -> None:
    assert without_credentials("rediss://:pw@[::1]:6380/0?password=pw#x") == "rediss://[::1]:6380/0"
    assert without_credentials("redis://user:pw@cache.internal/1") == "redis://cache.internal/1"
    assert without_credentials("memory://") == "memory://"
