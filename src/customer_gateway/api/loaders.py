"""The request's batch loaders: the services' `Batches` port, on aiodataloader.

A loader is built on first use (most requests need one or two of them), and refers to nothing
but its batch function: the services build those from module functions and shared services, so
a request's objects form no reference cycle and are freed the moment the request ends, instead
of waiting for the cyclic garbage collector, whose passes cost CPU under load.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from aiodataloader import DataLoader

from customer_gateway.services.batching import BatchFunction

__all__ = ["RequestLoader"]

K = TypeVar("K")
V = TypeVar("V")


class RequestLoader(Generic[K, V]):
    """One batch function's loader for one request; the class itself is a `Batches`."""

    __slots__ = ("_batch", "_loader")

    def __init__(self, batch: BatchFunction[K, V]) -> None:
        self._batch = batch
        self._loader: DataLoader[K, V] | None = None

    def load(self, key: K) -> asyncio.Future[V]:
        if self._loader is None:
            self._loader = DataLoader(self._batch)
        return self._loader.load(key)
