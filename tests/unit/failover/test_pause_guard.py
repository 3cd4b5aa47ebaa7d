"""The pause guard (agent/failover/pause_guard.py) on a clock the test moves: a stall makes the next writes wait
for one question to the backup, shared; no stall, no question; a failing question does not block writes."""

from __future__ import annotations

import asyncio

import pytest

from pa_console.agent.failover.pause_guard import STALL_S, PauseGuard


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_no_stall_no_question() -> None:
    asked: list[int] = []

    async def confirm() -> None:
        asked.append(1)

    clock = Clock()
    guard = PauseGuard(confirm, clock)

    async def main() -> None:
        for _ in range(20):
            clock.now += STALL_S / 2
            await guard.before_write()

    asyncio.run(main())
    assert asked == [] and not guard.suspect


def test_a_stall_makes_waiting_writes_share_one_question() -> None:
    asked: list[int] = []
    release = asyncio.Event()

    async def confirm() -> None:
        asked.append(1)
        await release.wait()

    clock = Clock()
    guard = PauseGuard(confirm, clock)

    async def main() -> list[bool]:
        clock.now += STALL_S * 5  # the process was frozen
        writes = [asyncio.ensure_future(guard.before_write()) for _ in range(5)]
        await asyncio.sleep(0.05)
        waiting = [not w.done() for w in writes]
        release.set()
        await asyncio.gather(*writes)
        clock.now += 0.1
        await guard.before_write()  # asked already: no second question
        return waiting

    assert asyncio.run(main()) == [True] * 5
    assert asked == [1] and not guard.suspect


def test_the_ticker_seeing_the_gap_first_still_makes_the_write_ask() -> None:
    asked: list[int] = []

    async def confirm() -> None:
        asked.append(1)

    clock = Clock()
    guard = PauseGuard(confirm, clock)
    clock.now += STALL_S * 3
    guard._note()  # the ticker ran first after the freeze and moved the clock on
    assert guard.suspect
    asyncio.run(guard.before_write())
    assert asked == [1] and not guard.suspect


@pytest.mark.parametrize("failure", [RuntimeError("peer"), TimeoutError()])
def test_a_failing_question_does_not_block_writes(failure: Exception) -> None:
    async def confirm() -> None:
        raise failure

    clock = Clock()
    guard = PauseGuard(confirm, clock)
    clock.now += STALL_S * 3
    asyncio.run(guard.before_write())  # returns: availability first
    assert not guard.suspect
