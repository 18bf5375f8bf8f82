"""`asyncio.gather` without its cost in the common case of a single awaitable, and a bounded
variant for long lists.

gather wraps every coroutine in a task; on the hot path a request usually needs one item (one
customer, one backend), and awaiting that directly saves a task and a round of the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar, cast, overload

__all__ = ["gather", "gather_bounded", "retrieve_error"]

T = TypeVar("T")


def retrieve_error(done: asyncio.Future[Any]) -> None:
    """A done-callback for reads started ahead that nobody may await: their error counts as
    seen, so asyncio does not log it as never retrieved."""
    if not done.cancelled():
        done.exception()


@overload
async def gather(
    coroutines: Sequence[Awaitable[T]], *, return_exceptions: Literal[False] = False
) -> list[T]: ...


@overload
async def gather(
    coroutines: Sequence[Awaitable[T]], *, return_exceptions: Literal[True]
) -> list[T | BaseException]: ...


async def gather(
    coroutines: Sequence[Awaitable[T]], *, return_exceptions: bool = False
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


@overload
async def gather_bounded(
    calls: Sequence[Callable[[], Awaitable[T]]],
    limit: int,
    *,
    return_exceptions: Literal[False] = False,
) -> list[T]: ...


@overload
async def gather_bounded(
    calls: Sequence[Callable[[], Awaitable[T]]], limit: int, *, return_exceptions: Literal[True]
) -> list[T | BaseException]: ...


async def gather_bounded(
    calls: Sequence[Callable[[], Awaitable[T]]], limit: int, *, return_exceptions: bool = False
) -> list[T] | list[T | BaseException]:
    """Every call's result, in order, with at most `limit` running at once.

    `limit` workers take the calls in turn, so a long list costs `limit` tasks, not one task
    (and one coroutine parked on a semaphore) per item. Errors are returned in place when
    asked to; otherwise the first one is raised once the running calls end, and no call
    starts after it.
    """
    results: list[T | BaseException | None] = [None] * len(calls)
    pending = iter(enumerate(calls))
    errors: list[Exception] = []

    async def worker() -> None:
        for i, call in pending:
            if errors and not return_exceptions:
                return
            try:
                results[i] = await call()
            except Exception as error:  # as gather does: cancellation still propagates
                results[i] = error
                errors.append(error)

    await gather([worker() for _ in range(min(limit, len(calls)))])
    if errors and not return_exceptions:
        raise errors[0]
    return cast("list[T | BaseException]", results)  # every slot now holds a result or error
