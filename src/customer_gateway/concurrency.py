"""`asyncio.gather` without its cost in the common case of a single awaitable.

gather wraps every coroutine in a task; on the hot path a request usually needs one item (one
customer, one backend), and awaiting that directly saves a task and a round of the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any, Literal, TypeVar, overload

__all__ = ["gather"]

T = TypeVar("T")


@overload
async def gather(
    coroutines: Sequence[Coroutine[Any, Any, T]], *, return_exceptions: Literal[False] = False
) -> list[T]: ...


@overload
async def gather(
    coroutines: Sequence[Coroutine[Any, Any, T]], *, return_exceptions: Literal[True]
) -> list[T | BaseException]: ...


async def gather(
    coroutines: Sequence[Coroutine[Any, Any, T]], *, return_exceptions: bool = False
) -> list[T] | list[T | BaseException]:
    """Like asyncio.gather over a list; exceptions are returned in place when asked to."""
    if len(coroutines) != 1:
        return await asyncio.gather(*coroutines, return_exceptions=return_exceptions)
    if not return_exceptions:
        return [await coroutines[0]]
    try:
        return [await coroutines[0]]
    except Exception as error:  # as gather does: cancellation still propagates
        failed: list[T | BaseException] = [error]
        return failed
