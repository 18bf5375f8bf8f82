"""Each fault x each backend x read/write: a documented code, and writes never half-applied."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import GatewayFactory, Sandboxes, kibo_backend, loyalty_backend, menu_backend
from support.graphql import gql

# One attempt, no breaker in the way; a short read timeout only where a fault hangs, so that a
# busy machine cannot turn a slow answer into a timeout anywhere else (sign-in included).
FAST = "max_attempts = 1\ncircuit_failures = 1000"
HANGS = "\ntimeout_s = 2"


@dataclass(frozen=True)
class Backend:
    name: str
    username: str
    password: str
    read_route: str
    write_route: str
    write_method: str = "PUT"


BACKENDS = [
    Backend(
        "menu", "ada.lovelace@example.com", "menu-demo-pass", "/customers/me", "/customer-accounts/"
    ),
    Backend(
        "kibo",
        "ada.lovelace@example.com",
        "kibo-demo-pass",
        "accounts/current",
        "/commerce/customer/accounts/",
    ),
    Backend(
        "loyalty",
        "ada.lovelace@example.com",
        "loyalty-demo-pass",
        "/DEFAULT/customer/",
        "/DEFAULT/customer/",
    ),
]
# fault -> the code a caller must see
FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "status": ({"status": 500}, "BACKEND_UNAVAILABLE"),
    "status503": ({"status": 503}, "BACKEND_UNAVAILABLE"),
    "hang": ({}, "BACKEND_UNAVAILABLE"),
    "malformed": ({}, "BACKEND_ERROR"),
    "html": ({}, "BACKEND_ERROR"),
    "drop": ({}, "BACKEND_UNAVAILABLE"),
    "apply_then_drop": ({}, "BACKEND_UNAVAILABLE"),
}


def gateway_for(make_gateway: GatewayFactory, sandboxes: Sandboxes, fault: str) -> TestClient:
    extra = FAST + (HANGS if fault == "hang" else "")
    return make_gateway(
        menu_backend("menu", sandboxes.url("menu"), extra=extra)
        + kibo_backend("kibo", sandboxes.url("kibo"), extra=extra)
        + loyalty_backend("loyalty", sandboxes.url("loyalty"), extra=extra)
    )


def sandbox(sandboxes: Sandboxes, name: str) -> Any:
    return {"menu": sandboxes.menu, "kibo": sandboxes.kibo, "loyalty": sandboxes.loyalty}[name]


def first_name(sandboxes: Sandboxes, backend: str, native_id: str) -> str:
    if backend == "menu":
        return str(sandboxes.menu.account(native_id)["first_name"])
    if backend == "kibo":
        return str(sandboxes.kibo.account(int(native_id))["firstName"])
    return str(sandboxes.loyalty.customer(native_id)["firstName"])


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("operation", ["read", "write"])
def test_fault(
    make_gateway: GatewayFactory, sandboxes: Sandboxes, backend: Backend, fault: str, operation: str
) -> None:
    gateway = gateway_for(make_gateway, sandboxes, fault)
    signed = gql(
        gateway,
        "mutation($b: String!, $u: String!, $p: String!) { signIn(backend: $b, username: $u, password: $p) { token { accessToken } customer { id nativeId } } }",
        {"b": backend.name, "u": backend.username, "p": backend.password},
    )["data"]["signIn"]
    token, cid, native = (
        signed["token"]["accessToken"],
        signed["customer"]["id"],
        signed["customer"]["nativeId"],
    )
    emulator = sandbox(sandboxes, backend.name)
    options, expected = FAULTS[fault]
    kind = "status" if fault.startswith("status") else fault
    if operation == "read":
        emulator.faults.add(kind, backend.read_route, method="GET", times=5, **options)
        body = gql(
            gateway,
            "query($b: String!) { me(backend: $b) { email } }",
            {"b": backend.name},
            token=token,
        )
        expected_read = "BACKEND_UNAVAILABLE" if fault == "apply_then_drop" else expected
        assert [e["extensions"]["code"] for e in body["errors"]] == [expected_read]
        return
    before = first_name(sandboxes, backend.name, native)
    emulator.journal.clear()
    emulator.faults.add(kind, backend.write_route, method=backend.write_method, times=1, **options)
    body = gql(
        gateway,
        'mutation($id: ID!) { updateCustomer(id: $id, input: {firstName: "Changed"}) { customer { firstName } userErrors { code } } }',
        {"id": cid},
        token=token,
    )
    assert [e["extensions"]["code"] for e in body.get("errors", [])] == [expected]
    after = first_name(sandboxes, backend.name, native)
    writes = emulator.journal.count(
        backend.write_method, backend.write_route.strip("/").split("/")[-1] or backend.write_route
    )
    assert writes == 1  # never retried
    if fault == "apply_then_drop":
        assert after == "Changed"  # applied although the caller heard "unavailable": ambiguous
    else:
        assert after == before  # refused or failed before applying: the old value, never a third
