"""[trusted_documents]: only listed operations run when enforced, named by hash, by documentId or
sent in full; nothing else reaches a backend, the admin key included; not enforced, everything
runs and unlisted documents are logged and counted. (The browser test runs Apollo Client against
a manifest written by Apollo's own tool.)"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import ADMIN_KEY, GatewayFactory, Sandboxes, loyalty_backend, menu_backend
from customer_gateway.observability.metrics import METRICS
from support.graphql import error_codes

SIGN_IN = 'mutation SignIn { signIn(backend: "menu", username: "ada.lovelace@example.com", password: "menu-demo-pass") { token { accessToken } } }'
ME = 'query Me { me(backend: "menu") { email } }'
BACKENDS = "query Backends { backends { name } }"
UNLISTED = "query Mine($backend: String!) { me(backend: $backend) { email firstName } }"
ADMIN_UNLISTED = 'query Members { customers(backend: "loyalty", first: 5) { totalCount } }'


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def apollo_manifest(*documents: str) -> dict[str, Any]:
    """As @apollo/generate-persisted-query-manifest writes it."""
    operations = [
        {"id": sha(d), "name": d.split()[1], "type": d.split()[0], "body": d} for d in documents
    ]
    return {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}


def id_map(*documents: str) -> dict[str, str]:
    """Relay's, GraphQL Code Generator's and Yoga's shape."""
    return {sha(d): d for d in documents}


MANIFESTS = {"apollo": apollo_manifest, "map": id_map}
TrustedFactory = Callable[..., TestClient]


@pytest.fixture
def make_trusted(
    make_gateway: GatewayFactory, sandboxes: Sandboxes, tmp_path: Path
) -> TrustedFactory:
    def make(
        *, enforce: bool = True, shape: str = "apollo", extra: str = "", gateway: str = ""
    ) -> TestClient:
        manifest = tmp_path / f"trusted-{shape}.json"
        manifest.write_text(json.dumps(MANIFESTS[shape](SIGN_IN, ME, BACKENDS)))
        section = f"[trusted_documents]\nmanifest = {json.dumps(str(manifest))}\nenforce = {str(enforce).lower()}\n"
        return make_gateway(
            menu_backend("menu", sandboxes.url("menu"), extra='loyalty = "loyalty"')
            + loyalty_backend("loyalty", sandboxes.url("loyalty")),
            gateway=gateway or "introspection = false",
            extra=f"{section}\n{extra}",
        )

    return make


def post(client: TestClient, body: dict[str, Any], **headers: str) -> tuple[int, dict[str, Any]]:
    response = client.post("/graphql", json=body, headers=headers)
    return response.status_code, response.json()


def by_hash(document: str) -> dict[str, Any]:
    return {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha(document)}}}


def sign_in(client: TestClient) -> str:
    status, body = post(client, by_hash(SIGN_IN))
    assert status == 200, body
    token: str = body["data"]["signIn"]["token"]["accessToken"]
    return token


def upstream(sandboxes: Sandboxes) -> int:
    return sandboxes.menu.journal.count() + sandboxes.loyalty.journal.count()


@pytest.mark.parametrize("shape", sorted(MANIFESTS))
def test_listed_documents_run_by_hash_by_document_id_and_in_full(
    make_trusted: TrustedFactory, shape: str
) -> None:
    client = make_trusted(shape=shape)
    token = sign_in(client)
    bearer = {"Authorization": f"Bearer {token}"}
    expected = {"data": {"me": {"email": "ada.lovelace@example.com"}}}
    assert post(client, by_hash(ME), **bearer) == (200, expected)
    assert post(client, {"documentId": f"sha256:{sha(ME)}"}, **bearer) == (200, expected)
    assert post(client, {"documentId": sha(ME).upper()}, **bearer) == (200, expected)
    assert post(client, {"query": ME}, **bearer) == (200, expected)
    assert post(client, {"query": ME, "documentId": sha(ME)}, **bearer) == (200, expected)
    got = client.get(
        "/graphql",
        params={"documentId": f"sha256:{sha(ME)}"},
        headers={**bearer, "Content-Type": "application/json"},
    )
    assert (got.status_code, got.json()) == (200, expected)


def test_unlisted_ids_and_documents_are_refused_before_any_upstream_call(
    make_trusted: TrustedFactory, sandboxes: Sandboxes
) -> None:
    client = make_trusted()
    token = sign_in(client)
    sandboxes.menu.journal.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    variables = {"variables": {"backend": "menu"}}
    for body in (
        {**by_hash(UNLISTED), **variables},
        {"documentId": f"sha256:{sha(UNLISTED)}", **variables},
        {**by_hash(UNLISTED), "query": UNLISTED, **variables},  # an APQ registration attempt
    ):
        status, answer = post(client, body, **bearer)
        assert status == 404 and error_codes(answer) == ["PERSISTED_QUERY_NOT_IN_LIST"]
        assert "data" not in answer
    for document in (UNLISTED, ME.replace("{ email }", "{ email }\n"), ME + " "):
        status, answer = post(client, {"query": document, **variables}, **bearer)
        assert status == 403 and error_codes(answer) == ["QUERY_NOT_IN_SAFELIST"], document
    got = client.get(
        "/graphql",
        params={"query": UNLISTED, "variables": json.dumps({"backend": "menu"})},
        headers={**bearer, "Content-Type": "application/json"},
    )
    assert got.status_code == 403 and error_codes(got.json()) == ["QUERY_NOT_IN_SAFELIST"]
    assert upstream(sandboxes) == 0


def test_the_admin_key_does_not_bypass_the_list(
    make_trusted: TrustedFactory, sandboxes: Sandboxes
) -> None:
    client = make_trusted()
    for body in ({"query": ADMIN_UNLISTED}, by_hash(ADMIN_UNLISTED)):
        status, answer = post(client, body, **{"X-Api-Key": ADMIN_KEY})
        assert status in (403, 404) and "data" not in answer
        assert error_codes(answer)[0] in ("QUERY_NOT_IN_SAFELIST", "PERSISTED_QUERY_NOT_IN_LIST")
    assert upstream(sandboxes) == 0


def test_an_enforced_list_remembers_nothing_new(
    make_trusted: TrustedFactory, make_gateway: GatewayFactory, sandboxes: Sandboxes, redis_url: str
) -> None:
    shared = f'[store]\nurl = "{redis_url}"\n[otp]\nsecret = "shared-otp-secret-0123456789"\n'
    enforced = make_trusted(extra=shared)
    plain = make_gateway(menu_backend("menu", sandboxes.url("menu")), extra=shared)
    document = "query Registered { backends { name kind } }"
    status, answer = post(enforced, {**by_hash(document), "query": document})
    assert status == 404 and error_codes(answer) == ["PERSISTED_QUERY_NOT_IN_LIST"]
    status, answer = post(plain, by_hash(document))  # same store, automatic persisted queries on
    assert error_codes(answer) == ["PERSISTED_QUERY_NOT_FOUND"]


def test_a_named_document_sent_with_another_text_is_refused(make_trusted: TrustedFactory) -> None:
    client = make_trusted()
    status, answer = post(client, {**by_hash(BACKENDS), "query": ME})
    assert status == 400 and error_codes(answer) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    status, answer = post(client, {"documentId": sha(BACKENDS), "query": ME})
    assert status == 400 and error_codes(answer) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    status, answer = post(client, {**by_hash(ME), "documentId": sha(BACKENDS)})
    assert status == 400 and error_codes(answer) == ["BAD_REQUEST"]


@pytest.mark.parametrize(
    "document_id", [f"md5:{sha(BACKENDS)}", sha(BACKENDS)[:40], 12, "sha256:" + "z" * 64, ""]
)
def test_malformed_document_ids_are_bad_requests(
    make_trusted: TrustedFactory, document_id: object
) -> None:
    status, answer = post(make_trusted(), {"documentId": document_id})
    assert status == 400 and error_codes(answer) == ["BAD_REQUEST"]


def untrusted_count() -> float:
    return METRICS.registry.get_sample_value("customer_gateway_untrusted_documents_total") or 0.0


def test_not_enforced_everything_runs_and_unlisted_documents_are_logged_and_counted(
    make_trusted: TrustedFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_trusted(enforce=False)
    token = sign_in(client)
    bearer = {"Authorization": f"Bearer {token}"}
    before = untrusted_count()
    assert post(client, {"query": ME}, **bearer)[0] == 200
    assert untrusted_count() == before  # listed: not counted
    secret_variable = {"backend": "menu", "note": "canary-variable-value"}
    body = {"query": UNLISTED, "variables": secret_variable, "operationName": "Mine"}
    with caplog.at_level(logging.INFO, logger="customer_gateway.trusted_documents"):
        for _ in range(3):
            status, answer = post(client, body, **bearer)
            assert status == 200 and answer["data"]["me"]["email"] == "ada.lovelace@example.com"
    assert untrusted_count() == before + 3
    logged = [r for r in caplog.records if r.name == "customer_gateway.trusted_documents"]
    assert len(logged) == 1  # each distinct document once
    assert logged[0].__dict__["operation"] == "Mine"
    assert logged[0].__dict__["sha256"] == sha(UNLISTED)
    assert "canary-variable-value" not in str(logged[0].__dict__)
    # automatic persisted queries keep working for unlisted documents, and are counted too
    document = "query Kinds { backends { kind } }"
    assert error_codes(post(client, by_hash(document))[1]) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert post(client, {**by_hash(document), "query": document})[1]["data"]["backends"]
    assert post(client, by_hash(document))[1]["data"]["backends"]
    assert untrusted_count() == before + 5
    status, answer = post(client, {"documentId": sha(document)})
    assert status == 404 and error_codes(answer) == ["PERSISTED_QUERY_NOT_IN_LIST"]


def test_a_hostile_operation_name_is_not_logged_as_given(
    make_trusted: TrustedFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_trusted(enforce=False)
    document = "query Forged { backends { name } }"
    with caplog.at_level(logging.INFO, logger="customer_gateway.trusted_documents"):
        post(client, {"query": document, "operationName": "x\r\nINFO forged line"})
    logged = [r for r in caplog.records if r.name == "customer_gateway.trusted_documents"]
    assert [r.__dict__["operation"] for r in logged] == ["Forged"]
