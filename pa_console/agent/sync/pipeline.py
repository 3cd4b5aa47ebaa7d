"""Network reads and disk writes overlap: items go to a worker task through a bounded queue (bounded memory).

If the worker fails, the next hand-over raises its error instead of waiting forever on a full queue."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class WriteBehind(Generic[T]):
    def __init__(self, work: Callable[[T], Awaitable[None]], depth: int) -> None:
        self._work = work
        self._queue: asyncio.Queue[tuple[bool, T | None]] = asyncio.Queue(depth)
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            more, item = await self._queue.get()
            if not more:
                return
            await self._work(item)  # type: ignore[arg-type]

    async def _hand_over(self, entry: tuple[bool, T | None]) -> None:
        put = asyncio.ensure_future(self._queue.put(entry))
        await asyncio.wait({put, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()
        if self._task.done():
            self._task.result()  # the worker's error, if it failed
            if not put.done() or put.cancelled():
                raise RuntimeError("the writer stopped early")

    async def put(self, item: T) -> None:
        await self._hand_over((True, item))

    async def close(self) -> None:
        """Write what is queued, then stop; raises the worker's error if it failed."""
        if not self._task.done():
            await self._hand_over((False, None))
        await self._task

    def cancel(self) -> None:
        self._task.cancel()
