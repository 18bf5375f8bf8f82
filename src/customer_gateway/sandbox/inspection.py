"""Which requests are the sandbox's own (`/_sandbox/...`), not vendor traffic.

Each emulator serves its journal, outbox and fault plan under this prefix; the journal and the
fault plan leave these requests alone, so looking never changes what is recorded or faulted.
"""

from __future__ import annotations

from starlette.types import Scope

__all__ = ["INSPECTION_PREFIX", "is_inspection"]

INSPECTION_PREFIX = "/_sandbox"


def is_inspection(scope: Scope) -> bool:
    """A request for the sandbox's own inspection routes (mounted or not): not vendor traffic."""
    relative = str(scope["path"]).removeprefix(str(scope.get("root_path", "")))
    return relative.startswith(INSPECTION_PREFIX)
