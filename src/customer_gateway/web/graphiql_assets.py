"""Serve GraphiQL's scripts and styles from a local node_modules folder instead of a CDN.

GraphiQL's page loads React and GraphiQL from unpkg.com by default; where browsers cannot reach
it (air-gapped networks, CI), `[gateway] graphiql_assets` points at an `npm install` of the same
pinned versions, and the page's `https://unpkg.com/<package>@<version>/<file>` URLs are served
from there. The versions must match, so the pages' subresource-integrity hashes still hold.
"""

from __future__ import annotations

import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["ASSETS_PREFIX", "CDN_PREFIX", "graphiql_asset_routes"]

CDN_PREFIX = "https://unpkg.com/"
ASSETS_PREFIX = "/graphiql-assets/"


def _split(path: str) -> tuple[str, str, str] | None:
    """`@scope/name@1.0.2/dist/x.js` -> ("@scope/name", "1.0.2", "dist/x.js")."""
    parts = path.split("/")
    head = 2 if parts[0].startswith("@") and len(parts) > 2 else 1
    spec, rest = "/".join(parts[:head]), "/".join(parts[head:])
    name, sep, version = spec.rpartition("@")
    if not sep or not name or not version or not rest:
        return None
    return name, version, rest


def _version(package: Path) -> object:
    """The installed version of a package folder, or None when it is not one."""
    try:
        data = json.loads((package / "package.json").read_text())
    except (OSError, ValueError):
        return None
    return data.get("version") if isinstance(data, dict) else None


def graphiql_asset_routes(folder: Path) -> list[Route]:
    root = folder.resolve()

    async def asset(request: Request) -> Response:
        split = _split(request.path_params["path"])
        if split is None:
            return PlainTextResponse("Not Found", status_code=404)
        name, version, rest = split
        package = (root / name).resolve()
        file = (package / rest).resolve()
        inside = package.parent.is_relative_to(root) and file.is_relative_to(package)
        if not (inside and file.is_file() and _version(package) == version):
            return PlainTextResponse("Not Found", status_code=404)
        return FileResponse(file, headers={"Cache-Control": "public, max-age=86400"})

    return [Route(ASSETS_PREFIX + "{path:path}", asset, methods=["GET"])]
