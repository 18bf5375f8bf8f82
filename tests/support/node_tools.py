"""The npm packages some tests need (Apollo Federation, graphql-js, GraphiQL's assets; the
browser clients, Apollo's manifest tool and esbuild).

They are installed once per lockfile into a cache folder outside the repository, from the
`package.json` and `package-lock.json` pinned in tests/federation/ or tests/browser/, with
`npm ci`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

PINNED = Path(__file__).parents[1] / "federation"
BROWSER = Path(__file__).parents[1] / "browser"
SCRIPTS = ("compose.mjs", "gateway.mjs", "build_schema.mjs")


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is required by this test and is not installed")
        pytest.skip(f"{tool} is not installed")
    return path


def install(pinned: Path = PINNED) -> Path:
    """The folder holding node_modules for the packages pinned in `pinned`, installed if
    needed (with the federation test scripts when those are the ones asked for)."""
    npm = require("npm")
    require("node")
    lock = (pinned / "package-lock.json").read_bytes()
    digest = hashlib.sha256(lock + (pinned / "package.json").read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    folder = cache / "customer-gateway-tests" / f"npm-{digest}"
    if not (folder / "node_modules" / ".installed").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(pinned / name, folder / name)
        subprocess.run(  # noqa: S603 - npm from the PATH, fixed arguments
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
            cwd=folder,
            check=True,
            timeout=900,
        )
        (folder / "node_modules" / ".installed").touch()
    for script in SCRIPTS if pinned == PINNED else ():  # next to node_modules, for imports
        shutil.copyfile(PINNED / script, folder / script)
    return folder
