"""Imports point down only: the layering of DESIGN.md, checked on the source tree."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "customer_gateway"

# package -> module prefixes it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "domain": ("strawberry", "starlette", "httpx", "graphql", "pydantic", "customer_gateway."),
    "connectors": (
        "strawberry",
        "starlette",
        "graphql",
        "customer_gateway.api",
        "customer_gateway.services",
        "customer_gateway.web",
    ),
    # Use cases see connectors through their protocol only, never a vendor package or the
    # transport; per-request batching comes in through their own port, not a loader library.
    "services": (
        "strawberry",
        "starlette",
        "graphql",
        "httpx",
        "aiodataloader",
        "customer_gateway.api",
        "customer_gateway.web",
        "customer_gateway.connectors",
    ),
    # OTP types and codes sit below the store, which keeps them; the store sits below
    # everything that uses it, and knows nothing of HTTP, GraphQL or the services.
    "otp": (
        "strawberry",
        "starlette",
        "graphql",
        "customer_gateway.api",
        "customer_gateway.web",
        "customer_gateway.store",
        "customer_gateway.services",
    ),
    "store": (
        "strawberry",
        "starlette",
        "graphql",
        "httpx",
        "customer_gateway.api",
        "customer_gateway.web",
        "customer_gateway.services",
        "customer_gateway.connectors",
    ),
    # The HTTP edge and the GraphQL layer reach the store through its own interfaces only.
    "api": (
        "httpx",
        "customer_gateway.connectors",
        "customer_gateway.sandbox",
        "customer_gateway.otp",
    ),
    "web": (
        "strawberry",
        "customer_gateway.connectors",
        "customer_gateway.api",
        "customer_gateway.otp",
    ),
    "sandbox": ("customer_gateway.",),
}
ALLOWED = {
    "domain": ("customer_gateway.domain",),
    "sandbox": ("customer_gateway.sandbox",),
    "services": ("customer_gateway.connectors.protocol",),
    "api": ("customer_gateway.connectors.protocol",),
}


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_point_down(package: str) -> None:
    offenders = []
    for path in sorted((SRC / package).rglob("*.py")):
        for name in imports_of(path):
            if name.startswith(ALLOWED.get(package, ())):
                continue
            if any(
                name == bad.rstrip(".")
                or name.startswith(bad if bad.endswith(".") else bad + ".")
                or name == bad
                for bad in FORBIDDEN[package]
            ):
                offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert offenders == []


def test_modules_stay_small_or_say_why() -> None:
    long = []
    for path in SRC.rglob("*.py"):
        lines = path.read_text().splitlines()
        if len(lines) > 400 and "long because" not in "\n".join(lines[:15]):
            long.append(f"{path.relative_to(SRC)}: {len(lines)} lines")
    assert long == []


def test_only_the_contract_kit_imports_pytest() -> None:
    """pytest is a dependency of the suites that run the kit, never of the gateway itself."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path.is_relative_to(SRC / "testing"):
            continue
        for name in imports_of(path):
            if name.partition(".")[0] in ("pytest", "_pytest") or name.startswith(
                "customer_gateway.testing"
            ):
                offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert offenders == []


def test_running_the_gateway_imports_no_pytest() -> None:
    modules = "customer_gateway, customer_gateway.app, customer_gateway.cli, customer_gateway.demo"
    code = f"import sys, {modules}; print(sorted(m for m in sys.modules if 'pytest' in m))"
    result = subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
