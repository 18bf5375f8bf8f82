"""Every package states its public API in __all__, and every exported name exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import customer_gateway

PACKAGES = sorted(
    name
    for _, name, is_package in pkgutil.walk_packages(customer_gateway.__path__, "customer_gateway.")
    if is_package
)


@pytest.mark.parametrize("name", ["customer_gateway", *PACKAGES])
def test_exports_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if name.endswith("sandbox") or name.endswith(
        ("api", "web", "otp", "observability", "connectors")
    ):
        return  # namespace-like packages: their modules carry the __all__
    assert exported is not None, f"{name} has no __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == []


def test_domain_exports() -> None:
    from customer_gateway import domain

    assert {
        "Customer",
        "Token",
        "Level",
        "LoyaltyStatus",
        "GatewayError",
        "encode_customer_id",
    } <= set(domain.__all__)


def test_every_module_declares_all() -> None:
    modules = [
        name
        for _, name, is_package in pkgutil.walk_packages(
            customer_gateway.__path__, "customer_gateway."
        )
        if not is_package and not name.endswith("__main__")
    ]
    lacking = [name for name in modules if not hasattr(importlib.import_module(name), "__all__")]
    assert lacking == []
