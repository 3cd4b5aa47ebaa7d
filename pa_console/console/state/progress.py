"""Progress coalescing: a multi-GiB sync reports many times a second; the views get a few updates a second."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# schedule(delay_s, callback) -> a handle with cancel(); asyncio's loop.call_later fits.
Scheduler = Callable[[float, Callable[[], None]], Any]


class Coalescer(Generic[T]):
    """Passes the first value on at once, then at most one value per `interval` (always the latest one).

    A value that arrives too soon is held and delivered when the interval is over (via `schedule`), so the
    last value of a burst is never lost.
    """

    def __init__(
        self,
        deliver: Callable[[T], None],
        schedule: Scheduler,
        *,
        interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._deliver = deliver
        self._schedule = schedule
        self._interval = interval
        self._clock = clock
        self._last: float | None = None
        self._pending: T | None = None
        self._has_pending = False
        self._handle: Any = None
        self._scheduled = False

    def offer(self, value: T) -> None:
        now = self._clock()
        if not self._scheduled and (self._last is None or now - self._last >= self._interval):
            self._emit(value, now)
            return
        self._pending = value
        self._has_pending = True
        if not self._scheduled:
            assert self._last is not None
            delay = max(0.0, self._interval - (now - self._last))
            self._scheduled = True
            self._handle = self._schedule(delay, self.flush)

    def flush(self) -> None:
        """Deliver the held value now (if any)."""
        self._handle = None
        self._scheduled = False
        if self._has_pending:
            value = self._pending
            self._pending = None
            self._has_pending = False
            self._emit(value, self._clock())  # type: ignore[arg-type]

    def cancel(self) -> None:
        """Drop a held value (e.g. the sync finished; a late progress value would be stale)."""
        if self._handle is not None and hasattr(self._handle, "cancel"):
            self._handle.cancel()
        self._handle = None
        self._scheduled = False
        self._pending = None
        self._has_pending = False

    def _emit(self, value: T, now: float) -> None:
        self._last = now
        self._deliver(value)
