"""What `serve` says when it starts: where it listens and what it serves, in one short block.

An operator's first question is whether the process runs the config they meant: the address,
the backends and their kinds, the store, and which browser-facing features are on. One JSON
line when the logs are JSON (a log pipeline keeps it with the rest), a few lines of text
otherwise. Credentials in a URL (`redis://:secret@host`) are never shown.
"""

from __future__ import annotations

import logging
import socket
from typing import Any
from urllib.parse import urlsplit

from customer_gateway import __version__
from customer_gateway.observability.logging import JsonFormatter
from customer_gateway.settings import LoadedSettings

__all__ = ["describe_serving", "render_banner", "without_credentials"]


def without_credentials(url: str) -> str:
    """`scheme://host:port/path` only: no user, password, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def listening_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def describe_serving(loaded: LoadedSettings, sock: socket.socket) -> dict[str, Any]:
    settings = loaded.settings
    gateway = settings.gateway
    backends = {
        name: {
            "kind": str(getattr(backend, "kind", "?")),
            "url": without_credentials(str(getattr(backend, "base_url", ""))),
            **({"loyalty": linked} if (linked := getattr(backend, "loyalty", None)) else {}),
        }
        for name, backend in loaded.backends.items()
    }
    trusted = (
        {
            "documents": len(loaded.trusted_documents or {}),
            "enforce": settings.trusted_documents.enforce,
        }
        if settings.trusted_documents is not None
        else None
    )
    return {
        "version": __version__,
        "address": f"{listening_url(sock)}/graphql",
        "workers": gateway.workers,
        "backends": backends,
        "store": without_credentials(settings.store.url),
        # What a browser or an unknown client can do; one entry per switch.
        "introspection": gateway.introspection,
        "graphiql": gateway.graphiql_enabled,
        "persisted_queries": gateway.persisted_queries,
        "cors": list(settings.cors.allow_origins),  # none: no other origin gets access
        "trusted_documents": trusted,
        "admin_keys": len(gateway.admin_keys),
    }


def render_banner(description: dict[str, Any], *, json_format: bool) -> str:
    if json_format:
        record = logging.makeLogRecord(
            {"name": "customer_gateway.serve", "levelname": "INFO", "msg": "serving"}
        )
        record.__dict__.update(description)
        return JsonFormatter().format(record)
    backends = ", ".join(
        f"{name} ({backend['kind']}) {backend['url']}"
        for name, backend in description["backends"].items()
    )
    switches = ("introspection", "graphiql", "persisted_queries")
    workers = description["workers"]
    return "\n".join(
        [
            f"customer-gateway {description['version']} serving {description['address']}"
            + (f" with {workers} workers" if workers > 1 else ""),
            f"  backends:  {backends or 'none'}",
            f"  store:     {description['store']}",
            "  "
            + "   ".join(
                f"{name.replace('_', ' ')}: {'on' if description[name] else 'off'}"
                for name in switches
            ),
            f"  cors:      {', '.join(description['cors']) or 'off'}",
            f"  trusted documents: {_trusted(description['trusted_documents'])}",
            f"  admin keys: {description['admin_keys']}",
        ]
    )


def _trusted(trusted: dict[str, Any] | None) -> str:
    if trusted is None:
        return "off"
    how = "enforced" if trusted["enforce"] else "not enforced (others logged)"
    return f"{trusted['documents']} documents, {how}"
