"""A primary that was frozen asks its backup whether it still is the primary before it acknowledges a write.

A process that was stopped (SIGSTOP, a paused VM, a swap storm) cannot tell that it stopped. When it runs again, its
heartbeat loop learns within a probe interval that the backup took over meanwhile, and fences. But requests that
queued during the freeze are served in that interval, and each write among them would be acknowledged by an
appliance that is no longer the primary: kept aside at the fence, so not destroyed, yet no longer in the site's data.
Measured before this guard (`test_failover_trials.py -m long`, pause trials): 393 such writes acknowledged in 20
trials on a loaded machine, a two-primary window of up to 0.47 s.

So a ticker watches the event loop's own clock. A gap much longer than its tick means this process did not run; from
then until the backup has been asked, a write first waits for one heartbeat (shared by every write waiting), which
fences this appliance if the backup is primary at a higher epoch; the write then meets the fenced store's refusal.
A backup that does not answer does not block writes: it may simply be down, and availability comes first (a network
partition cannot be told apart from that; docs/reliability.md says what it costs)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

TICK_S = 0.2
STALL_S = 1.0  # five ticks missed: the process (or its event loop) did not run


class PauseGuard:
    def __init__(self, confirm: Callable[[], Awaitable[object]], clock: Callable[[], float] = time.monotonic) -> None:
        self._confirm = confirm
        self._clock = clock
        self._last = clock()
        self._suspect = False
        self._asking: asyncio.Future[None] | None = None

    @property
    def suspect(self) -> bool:
        """True from a detected stall until the backup has been asked."""
        return self._suspect

    async def run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self._note()

    def _note(self) -> None:
        # Whichever runs first after a freeze, the ticker or a write, sees the gap: the flag stays until asked.
        now = self._clock()
        if now - self._last > STALL_S:
            if not self._suspect:
                log.warning("this process did not run for %.1f s; writes wait until the backup confirms this "
                            "appliance is still the primary", now - self._last)
            self._suspect = True
        self._last = now

    async def before_write(self) -> None:
        self._note()
        if not self._suspect:
            return
        if self._asking is None or self._asking.done():
            self._asking = asyncio.ensure_future(self._ask())
        await asyncio.shield(self._asking)

    async def _ask(self) -> None:
        try:
            await self._confirm()
        except Exception:
            log.exception("asking the backup after a stall failed; writes go on")
        finally:
            self._suspect = False
            self._last = self._clock()
