"""Typed configuration from a TOML file, `${ENV}` interpolation and `CUSTOMER_GATEWAY_*` overrides.

Precedence: defaults < TOML file < environment (`CUSTOMER_GATEWAY_GATEWAY__INTROSPECTION=true`)
< command-line flags. Secrets live in the environment and reach the file only as `${NAME}`. Every
problem is reported as one line naming where the value came from (the file and line, the
environment variable or the flag), the key and what is wrong; an override naming a section or
key that does not exist is refused like the same mistake in the file.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr

from customer_gateway.api.trusted_documents import read_manifest
from customer_gateway.connectors.protocol import ConnectorFactory
from customer_gateway.connectors.registry import load_connector_kinds
from customer_gateway.overrides import decode, environment_overrides, flag_overrides, place

__all__ = [
    "ConfigError",
    "CorsSection",
    "GatewaySection",
    "GatewaySettings",
    "LoadedSettings",
    "OtpSection",
    "StoreSection",
    "TrustedDocumentsSection",
    "load_settings",
    "parse_settings",
]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_BACKEND_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_ORIGIN = re.compile(r"(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5}|:\*)?")
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


class ConfigError(Exception):
    """The configuration cannot be used; `problems` holds one readable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class GatewaySection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    admin_keys: list[SecretStr] = Field(default_factory=list)
    introspection: bool = False
    graphiql: bool | None = None  # defaults to `introspection`
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    max_body_bytes: int = Field(2_000_000, ge=1024)
    graphiql_assets: Path | None = None  # a node_modules folder to serve GraphiQL from
    persisted_queries: bool = True  # automatic persisted queries, kept in the [store]
    workers: int = Field(1, ge=1, le=64)  # processes on one socket; more than 1 needs Redis
    # Slow and greedy clients (web/connection_limits.py): a request's head and body must arrive
    # in time and its answer be read, heads are bounded, and each worker holds at most
    # `max_connections` client connections, `max_connections_per_address` of one client.
    header_timeout_s: float = Field(10.0, gt=0, le=300)
    body_timeout_s: float = Field(30.0, gt=0, le=600)
    write_timeout_s: float = Field(30.0, gt=0, le=600)
    max_header_bytes: int = Field(65536, ge=4096, le=1_048_576)
    max_connections: int = Field(500, ge=1)
    max_connections_per_address: int = Field(50, ge=0)

    @pydantic.field_validator("admin_keys")
    @classmethod
    def _strong_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for key in keys:
            if len(key.get_secret_value()) < 16:
                raise ValueError("admin keys must be at least 16 characters")
        return keys

    @property
    def graphiql_enabled(self) -> bool:
        return self.introspection if self.graphiql is None else self.graphiql


class LimitsSection(BaseModel):
    """Request rate limits and work bounds; `trusted_proxies` are the only peers whose
    X-Forwarded-For counts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_address: int = Field(600, ge=1)
    requests_per_token: int = Field(300, ge=1)
    window_s: float = Field(60.0, gt=0)
    trusted_proxies: list[str] = Field(default_factory=list)
    max_document_bytes: int = Field(65536, ge=1024, le=2_000_000)
    max_representations: int = Field(100, ge=1, le=10_000)

    @pydantic.field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            ipaddress.ip_network(proxy, strict=False)  # raises ValueError with a clear message
        return proxies


class TelemetrySection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tracing: bool = False  # OpenTelemetry spans; needs the `otel` extra


class StoreSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field("memory://", pattern=r"^(memory://|rediss?://.+)$")
    timeout_s: float = Field(0.25, gt=0, le=10)  # bounds every store call, connecting included


class OtpSection(BaseModel):
    """The gateway-run OTP flow: the HMAC key for stored codes and how codes are delivered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret: SecretStr | None = None  # required with a shared (Redis) store
    notifier: Literal["outbox", "webhook", "smtp"] = "outbox"
    webhook_url: HttpUrl | None = None
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_from: str | None = None
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    ttl_s: int = Field(600, ge=60, le=3600)
    max_attempts: int = Field(5, ge=1, le=10)
    sends_per_customer: int = Field(3, ge=1, le=100)
    send_window_s: int = Field(900, ge=60)

    @pydantic.field_validator("secret")
    @classmethod
    def _long_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and secret.get_secret_value() and len(secret.get_secret_value()) < 16:
            raise ValueError("the OTP secret must be at least 16 characters")
        return secret

    @pydantic.model_validator(mode="after")
    def _notifier_is_reachable(self) -> OtpSection:
        if self.notifier == "webhook" and self.webhook_url is None:
            raise ValueError('notifier = "webhook" needs webhook_url')
        if self.notifier == "smtp" and not (self.smtp_host and self.smtp_from):
            raise ValueError('notifier = "smtp" needs smtp_host and smtp_from')
        return self


class CorsSection(BaseModel):
    """Which browser origins may call the gateway; none unless listed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow_origins: list[str] = Field(default_factory=list)
    allow_credentials: bool = False
    max_age_s: int = Field(600, ge=0, le=86400)

    @pydantic.field_validator("allow_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        """Written as browsers send `Origin` (lower case, no default port), or it never matches."""
        normalised = []
        for origin in origins:
            match = _ORIGIN.fullmatch(origin.lower())
            if origin != "*" and match is None:
                raise ValueError(
                    f"{origin!r} is not an origin: scheme://host or scheme://host:port "
                    "(port may be *), without a path or a trailing slash"
                )
            if match is not None and match.group(3) == _DEFAULT_PORTS[match.group(1)]:
                origin = origin[: -len(match.group(3))]
            normalised.append(origin.lower())
        return normalised

    @pydantic.model_validator(mode="after")
    def _no_wildcard_with_credentials(self) -> CorsSection:
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError('allow_credentials = true needs exact origins, not "*"')
        return self


class TrustedDocumentsSection(BaseModel):
    """The operations the gateway's clients ship; with `enforce`, the only ones that run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    manifest: Path  # relative to the config file's folder
    enforce: bool = True


class GatewaySettings(BaseModel):
    """The whole file; `backends` is validated per connector kind by `parse_settings`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gateway: GatewaySection = GatewaySection()
    limits: LimitsSection = LimitsSection()
    store: StoreSection = StoreSection()
    otp: OtpSection = OtpSection()
    telemetry: TelemetrySection = TelemetrySection()
    cors: CorsSection = CorsSection()
    trusted_documents: TrustedDocumentsSection | None = None
    backends: dict[str, dict[str, Any]] = Field(default_factory=dict)


@dataclass(frozen=True)
class LoadedSettings:
    """Validated settings plus each backend's settings model, built by its connector kind."""

    settings: GatewaySettings
    backends: dict[str, BaseModel]
    kinds: Mapping[str, ConnectorFactory] = field(repr=False)
    trusted_documents: Mapping[str, str] | None = field(default=None, repr=False)

    @property
    def admin_keys(self) -> list[str]:
        return [key.get_secret_value() for key in self.settings.gateway.admin_keys]


def load_settings(
    path: str | Path,
    env: Mapping[str, str] | None = None,
    *,
    flags: Mapping[str, Any] | None = None,
) -> LoadedSettings:
    """The file at `path`, with `${NAME}` and `CUSTOMER_GATEWAY_*` from `env` (default: the
    process environment), and `flags` (`[gateway]` keys given on the command line) on top."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{file}: cannot read the file ({exc.strerror})"]) from None
    return parse_settings(text, source=str(file), env=env, base_dir=file.parent, flags=flags)


def parse_settings(
    text: str,
    *,
    source: str = "<config>",
    env: Mapping[str, str] | None = None,
    kinds: Mapping[str, ConnectorFactory] | None = None,
    base_dir: Path | None = None,
    flags: Mapping[str, Any] | None = None,
) -> LoadedSettings:
    environ = os.environ if env is None else env
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: {exc}"]) from None
    problems: list[str] = []
    overrides = [
        *environment_overrides(environ, GatewaySettings, problems.append),
        *flag_overrides("gateway", flags or {}),
    ]
    lines = _KeyLines(text, {override.key: override.origin for override in overrides})

    def report(key: tuple[str, ...], message: str) -> None:
        problems.append(lines.say(source, key, message))

    data = _interpolate(raw, (), environ, report)
    for override in overrides:
        place(data, override, GatewaySettings, report)
    if problems:
        raise ConfigError(problems)
    try:
        settings = GatewaySettings.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ConfigError(_describe(exc, (), lines, source)) from None
    known = load_connector_kinds() if kinds is None else kinds
    backends: dict[str, BaseModel] = {}
    for name, raw_backend in settings.backends.items():
        key = ("backends", name)
        if not _BACKEND_NAME.match(name):
            report(key, "backend names are lowercase letters, digits, - and _")
            continue
        kind = raw_backend.get("kind")
        if kind not in known:
            choices = ", ".join(sorted(known))
            report((*key, "kind"), f"unknown kind {kind!r} (one of: {choices})")
            continue
        model = known[str(kind)].settings_model
        values = {  # values from the environment are strings, JSON for list or table keys
            k: decode(model, k, v) if (*key, k) in lines.origins else v
            for k, v in raw_backend.items()
        }
        try:
            backends[name] = model.model_validate(values)
        except pydantic.ValidationError as exc:
            problems.extend(_describe(exc, key, lines, source))
    for name, backend in backends.items():
        linked = getattr(backend, "loyalty", None)
        if linked is not None and linked not in backends:
            report(("backends", name, "loyalty"), f"no backend named {linked!r}")
    secret = settings.otp.secret
    if settings.store.url != "memory://" and not (secret and secret.get_secret_value()):
        report(("otp", "secret"), "a shared store needs the same secret on every replica")
    workers = settings.gateway.workers
    if workers > 1 and settings.store.url == "memory://":
        report(
            ("store", "url"),
            f"memory:// is one process's memory; {workers} workers need a shared store"
            " (redis://host:port/db)",
        )
    trusted = settings.trusted_documents
    documents = None
    if trusted is not None:
        documents, manifest_problems = read_manifest((base_dir or Path()) / trusted.manifest)
        for problem in manifest_problems:
            report(("trusted_documents", "manifest"), problem)
    if problems:
        raise ConfigError(problems)
    return LoadedSettings(
        settings=settings, backends=backends, kinds=known, trusted_documents=documents
    )


def _interpolate(
    value: Any,
    key: tuple[str, ...],
    env: Mapping[str, str],
    report: Callable[[tuple[str, ...], str], None],
) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*key, k), env, report) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, key, env, report) for v in value]
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            report(key, f"environment variable {name} is not set")
            return ""

        return _ENV_REF.sub(replace, value)
    return value


def _describe(
    exc: pydantic.ValidationError, prefix: tuple[str, ...], lines: _KeyLines, source: str
) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        key = (*prefix, *(str(part) for part in error["loc"]))
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append(lines.say(source, key, message))
    return problems


class _KeyLines:
    """Where each dotted key sits in the TOML text, so a problem can name its line."""

    _HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\s*(#.*)?$")
    _ASSIGN = re.compile(r"^\s*([A-Za-z0-9_\-\"']+)\s*=")

    def __init__(self, text: str, origins: Mapping[tuple[str, ...], str]) -> None:
        self.origins = origins  # keys set by an environment variable or a flag: where from
        self.lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            if header := self._HEADER.match(line):
                table = tuple(p.strip().strip("\"'") for p in header.group(1).split("."))
                self.lines.setdefault(table, number)
            elif assign := self._ASSIGN.match(line):
                self.lines.setdefault((*table, assign.group(1).strip("\"'")), number)

    def say(self, source: str, key: tuple[str, ...], message: str) -> str:
        dotted = ".".join(key)
        for end in range(len(key), 1, -1):
            if key[:end] in self.origins:
                return f"{self.origins[key[:end]]}: {dotted}: {message}"
        for end in range(len(key), 0, -1):
            if key[:end] in self.lines:
                return f"{source}:{self.lines[key[:end]]}: {dotted}: {message}"
        return f"{source}: {dotted}: {message}"
