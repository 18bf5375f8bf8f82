"""The deployment examples stay valid: compose.yaml against the Compose Specification's schema
(vendored by check-jsonschema), the Kubernetes manifests against Kubernetes' own schemas
(shipped by kubernetes-validate, strict: unknown keys are errors), and the gateway configs in
them against `parse_settings`. Nothing runs containers and nothing needs the network."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from customer_gateway.demo import sandbox_config
from customer_gateway.settings import parse_settings

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
KUBERNETES_VERSION = "1.30.0"


def check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the checker's own module, fixed arguments
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def placeholders(text: str) -> dict[str, str]:
    """A value for every ${NAME} a config reads from the environment."""
    return {name: f"{name.lower()}-value-0123456789" for name in re.findall(r"\$\{(\w+)", text)}


def manifests() -> list[dict[str, Any]]:
    return [
        document
        for path in sorted((EXAMPLES / "kubernetes").glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def test_compose_file_is_valid_compose() -> None:
    result = check_compose(EXAMPLES / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_checker_refuses_a_misspelt_key(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    text = (EXAMPLES / "compose.yaml").read_text()
    broken.write_text(text.replace("stop_grace_period:", "stop_grace_periode:"))
    result = check_compose(broken)
    assert result.returncode == 1 and "stop_grace_periode" in result.stdout


def test_compose_runs_two_replicas_on_persistent_redis_and_the_sandbox() -> None:
    compose = yaml.safe_load((EXAMPLES / "compose.yaml").read_text())
    services = compose["services"]
    assert services["gateway"]["deploy"]["replicas"] == 2
    assert (
        "--appendonly" in services["redis"]["command"]
        and "redis-data:/data" in services["redis"]["volumes"]
    )
    assert services["sandbox"]["command"][0] == "sandbox" and "ports" not in services["sandbox"]
    mount = services["gateway"]["volumes"][0].split(":")[0]
    text = (EXAMPLES / mount).read_text()
    env = {k: v.split(":-")[1].rstrip("}") for k, v in services["gateway"]["environment"].items()}
    loaded = parse_settings(text, env=env)
    assert loaded.settings.store.url == "redis://redis:6379/0"
    # The backends are exactly what `sandbox --print-config` gives for the sandbox service.
    printed = parse_settings(sandbox_config("http://sandbox:9000"), env={})
    assert loaded.backends == printed.backends


def test_kubernetes_manifests_are_valid_for_kubernetes() -> None:
    kinds = []
    for manifest in manifests():
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        kinds.append(manifest["kind"])
    assert sorted(kinds) == ["ConfigMap", "Deployment", "Service"]


def test_the_kubernetes_validator_refuses_a_misspelt_probe() -> None:
    (deployment,) = (m for m in manifests() if m["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_deployment_probes_health_and_readiness_and_serves_its_configmap() -> None:
    by_kind = {m["kind"]: m for m in manifests()}
    pod = by_kind["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (port,) = container["ports"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    args = container["args"]
    assert args[0] == "serve" and args[args.index("--port") + 1] == str(port["containerPort"])
    assert by_kind["Service"]["spec"]["ports"][0]["targetPort"] == port["name"]
    assert pod["terminationGracePeriodSeconds"] > 20  # longer than serve's drain
    text = by_kind["ConfigMap"]["data"]["gateway.toml"]
    mounted = container["volumeMounts"][0]["mountPath"]
    assert args[args.index("--config") + 1] == f"{mounted}/gateway.toml"
    env = placeholders(text) | {
        "REDIS_URL": "redis://redis:6379/0",
        "OTP_WEBHOOK_URL": "https://notify.internal/otp",
        "OPEN_LOYALTY_URL": "https://loyalty.internal/api",
    }
    loaded = parse_settings(text, env=env)
    assert (
        loaded.settings.gateway.workers == 2
        and tomllib.loads(text)["store"]["url"] == "${REDIS_URL}"
    )


def test_readme_points_at_both_examples() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "examples/compose.yaml" in readme and "examples/kubernetes/" in readme
