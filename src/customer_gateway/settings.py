"""Typed configuration from a TOML file, `${ENV}` interpolation and `CUSTOMER_GATEWAY_*` overrides.

Precedence: defaults < TOML file < environment (`CUSTOMER_GATEWAY_GATEWAY__INTROSPECTION=true`).
Secrets live in the environment and reach the file only as `${NAME}`. Every problem is reported
as one line naming the file, the line, the key and what is wrong.
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
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from customer_gateway.connectors.protocol import ConnectorFactory
from customer_gateway.connectors.registry import load_connector_kinds

__all__ = [
    "ConfigError",
    "GatewaySection",
    "GatewaySettings",
    "LoadedSettings",
    "OtpSection",
    "StoreSection",
    "load_settings",
    "parse_settings",
]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_BACKEND_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


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
    """Request rate limits; `trusted_proxies` are the only peers whose X-Forwarded-For counts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_address: int = Field(600, ge=1)
    requests_per_token: int = Field(300, ge=1)
    window_s: float = Field(60.0, gt=0)
    trusted_proxies: list[str] = Field(default_factory=list)

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


class GatewaySettings(BaseSettings):
    """The whole file; `backends` is validated per connector kind by `parse_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="CUSTOMER_GATEWAY_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    gateway: GatewaySection = GatewaySection()
    limits: LimitsSection = LimitsSection()
    store: StoreSection = StoreSection()
    otp: OtpSection = OtpSection()
    telemetry: TelemetrySection = TelemetrySection()
    backends: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)  # the environment overrides the file


@dataclass(frozen=True)
class LoadedSettings:
    """Validated settings plus each backend's settings model, built by its connector kind."""

    settings: GatewaySettings
    backends: dict[str, BaseModel]
    kinds: Mapping[str, ConnectorFactory] = field(repr=False)

    @property
    def admin_keys(self) -> list[str]:
        return [key.get_secret_value() for key in self.settings.gateway.admin_keys]


def load_settings(path: str | Path, env: Mapping[str, str] | None = None) -> LoadedSettings:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{file}: cannot read the file ({exc.strerror})"]) from None
    return parse_settings(text, source=str(file), env=env)


def parse_settings(
    text: str,
    *,
    source: str = "<config>",
    env: Mapping[str, str] | None = None,
    kinds: Mapping[str, ConnectorFactory] | None = None,
) -> LoadedSettings:
    environ = os.environ if env is None else env
    lines = _KeyLines(text)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: {exc}"]) from None
    problems: list[str] = []

    def report(key: tuple[str, ...], message: str) -> None:
        problems.append(lines.say(source, key, message))

    data = _interpolate(raw, (), environ, report)
    if problems:
        raise ConfigError(problems)
    try:
        settings = GatewaySettings(**data)
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
        try:
            backends[name] = known[str(kind)].settings_model.model_validate(raw_backend)
        except pydantic.ValidationError as exc:
            problems.extend(_describe(exc, key, lines, source))
    for name, backend in backends.items():
        linked = getattr(backend, "loyalty", None)
        if linked is not None and linked not in backends:
            report(("backends", name, "loyalty"), f"no backend named {linked!r}")
    secret = settings.otp.secret
    if settings.store.url != "memory://" and not (secret and secret.get_secret_value()):
        report(("otp", "secret"), "a shared store needs the same secret on every replica")
    if problems:
        raise ConfigError(problems)
    return LoadedSettings(settings=settings, backends=backends, kinds=known)


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

    def __init__(self, text: str) -> None:
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
        for end in range(len(key), 0, -1):
            if key[:end] in self.lines:
                return f"{source}:{self.lines[key[:end]]}: {dotted}: {message}"
        return f"{source}: {dotted}: {message}"
