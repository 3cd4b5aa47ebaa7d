"""Network reads and disk writes overlap: items go to a worker thread through a bounded queue (bounded memory).

The worker is a thread of its own that takes the items straight from the queue, so that nothing between two items
waits for the event loop: with a hop through the loop per item (a task handing each to `asyncio.to_thread`), the
writer of a first sync spent 0.2-0.6 s per 1M rows (200 pages) between pages, waiting for the loop, busy reading the
network, to hand it the next one; without, the rows phase took ~10 % less wall time (docs/benchmarks.md). If the
worker fails, the next hand-over raises its error instead of waiting forever on a full queue."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class WriteBehind(Generic[T]):
    """`work` runs on each item in a thread of its own, in order; at most `depth` items are handed over and not
    yet worked (so memory stays bounded)."""

    def __init__(self, work: Callable[[T], None], depth: int, name: str = "write-behind") -> None:
        self._work = work
        self._loop = asyncio.get_running_loop()
        self._items: queue.SimpleQueue[tuple[bool, T | None]] = queue.SimpleQueue()
        self._room = asyncio.Semaphore(depth)
        self._done: asyncio.Future[None] = self._loop.create_future()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        error: BaseException | None = None
        try:
            while True:
                more, item = self._items.get()
                if not more:
                    return
                self._work(item)  # type: ignore[arg-type]
                self._loop.call_soon_threadsafe(self._room.release)
        except BaseException as exc:  # handed to the event loop: the next hand-over raises it
            error = exc
        finally:
            try:
                self._loop.call_soon_threadsafe(self._finish, error)
            except RuntimeError:
                pass  # the event loop is closed: nobody waits any more

    def _finish(self, error: BaseException | None) -> None:
        if self._done.done():
            return
        if error is None:
            self._done.set_result(None)
        else:
            self._done.set_exception(error)

    async def put(self, item: T) -> None:
        room: asyncio.Future[Any] = asyncio.ensure_future(self._room.acquire())
        done: asyncio.Future[Any] = self._done
        await asyncio.wait({room, done}, return_when=asyncio.FIRST_COMPLETED)
        if self._done.done():
            room.cancel()
            self._done.result()  # the worker's error, if it failed
            raise RuntimeError("the writer stopped early")
        self._items.put((True, item))

    async def close(self) -> None:
        """Write what is queued, then stop; raises the worker's error if it failed."""
        if not self._done.done():
            self._items.put((False, None))
        await asyncio.shield(self._done)
