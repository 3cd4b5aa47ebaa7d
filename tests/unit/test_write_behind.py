"""The rows' write-behind (sync/pipeline.py): a worker thread fed through a bounded queue, in order, whose failure
reaches the event loop's side instead of leaving it waiting on a full queue."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pa_console.agent.sync.pipeline import WriteBehind


def test_items_are_worked_in_order_on_a_thread_of_their_own_and_close_waits_for_them() -> None:
    done: list[int] = []
    threads: set[int] = set()

    def work(item: int) -> None:
        threads.add(threading.get_ident())
        done.append(item)

    async def main() -> None:
        writer = WriteBehind(work, 3)
        for n in range(50):
            await writer.put(n)
        await writer.close()

    asyncio.run(main())
    assert done == list(range(50))
    assert threads and threading.get_ident() not in threads


def test_the_queue_is_bounded_while_the_worker_is_busy() -> None:
    release = threading.Event()
    started = threading.Event()

    def work(item: int) -> None:
        started.set()
        assert release.wait(30)

    async def main() -> None:
        writer = WriteBehind(work, 2)
        await writer.put(0)  # taken by the worker, which then waits
        await asyncio.to_thread(started.wait, 30)
        await writer.put(1)  # two handed over and not done: the depth
        third = asyncio.ensure_future(writer.put(2))
        await asyncio.sleep(0.2)
        assert not third.done()  # no room until the worker finishes an item
        release.set()
        await asyncio.wait_for(third, 30)
        await writer.close()

    asyncio.run(main())


@pytest.mark.parametrize("when", ["at the next hand-over", "at close"])
def test_a_failing_worker_raises_its_error_on_the_event_loops_side(when: str) -> None:
    def work(item: int) -> None:
        if item == 1:
            raise OSError("disk on fire")

    async def main() -> None:
        writer = WriteBehind(work, 1)
        await writer.put(0)
        await writer.put(1)
        if when == "at close":
            await writer.close()
        for n in range(2, 100):  # the queue has room for one: without the error this would wait forever
            await writer.put(n)

    with pytest.raises(OSError, match="disk on fire"):
        asyncio.run(asyncio.wait_for(main(), 30))
