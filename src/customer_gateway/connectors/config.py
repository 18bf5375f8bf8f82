"""Settings every backend shares; each connector kind extends them with its own keys."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

__all__ = ["BackendSettings"]


class BackendSettings(BaseModel):
    """`[backends.<name>]`: where it is, how long to wait, and its linked loyalty backend."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    base_url: HttpUrl
    connect_timeout_s: float = Field(3.0, gt=0, le=60)
    timeout_s: float = Field(10.0, gt=0, le=120)
    max_attempts: int = Field(3, ge=1, le=5)
    retry_floor_per_s: float = Field(2.0, ge=0, le=100)  # retries allowed however quiet it is
    circuit_failures: int = Field(5, ge=1, le=1_000_000)
    circuit_open_s: float = Field(30.0, gt=0, le=600)
    http_engine: Literal["aiohttp", "httpx"] = "aiohttp"  # the connection pool under httpx
    loyalty: str | None = None

    @property
    def base(self) -> str:
        return str(self.base_url).rstrip("/")
