"""The port through which one request's reads are batched.

Whatever serves a request (the API layer, with its data loaders) gives the services a `Batches`:
a factory that turns a batch function into a per-request loader. Many loads of one request made
in the same turn of the event loop become one call of the batch function, each key answered
with its result or its own error; the services decide what is batched and by which rules, the
caller decides how.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

__all__ = ["Batch", "BatchFunction", "Batches"]

K = TypeVar("K")
V = TypeVar("V")
K_contra = TypeVar("K_contra", contravariant=True)

# Called with the keys of one batch; answers one result per key, in order, an error in place of
# a result where that key failed (as aiodataloader expects).
BatchFunction = Callable[[list[K]], Coroutine[Any, Any, list[V]]]


class Batch(Protocol[K_contra, V]):
    def load(self, key: K_contra) -> asyncio.Future[V]: ...


class Batches(Protocol):
    def __call__(self, function: BatchFunction[K, V], /) -> Batch[K, V]: ...
