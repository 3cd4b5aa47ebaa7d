"""When the backup pulls: first about `first_sync_delay_s` after establishing, then every `pull_interval_s`."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.sync.engine import SyncEngine
from pa_console.protocol.models import Role, SyncStatus

log = logging.getLogger(__name__)

_RETRY_AFTER_FAILURE_S = 30.0


class SyncScheduler:
    def __init__(self, runtime: AgentRuntime, engine: SyncEngine) -> None:
        self.runtime = runtime
        self.engine = engine
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._now_requested = False

    async def start(self) -> None:
        self.runtime.settings_listeners.append(self._wake_up)
        self._task = self.runtime.spawn(self._loop(), "sync-scheduler")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _wake_up(self) -> None:
        loop = self.runtime.bus._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._wake.set)

    def sync_now(self) -> None:
        self._now_requested = True
        self._wake_up()

    def _seconds_until_due(self) -> float | None:
        rt = self.runtime
        rel = rt.relationship
        settings = rt.settings
        if rt.role != Role.BACKUP or rel is None or not settings.sync_enabled:
            return None
        now = dt.datetime.now(dt.UTC)
        last = rt.last_sync
        if last is None or last.finished_at is None:
            due = rel.established_at + dt.timedelta(seconds=settings.first_sync_delay_s)
        else:
            wait = settings.pull_interval_s
            if last.status == SyncStatus.FAILED:
                wait = min(wait, _RETRY_AFTER_FAILURE_S)
            due = last.finished_at + dt.timedelta(seconds=wait)
        return max(0.0, (due - now).total_seconds())

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            if self._now_requested and self.runtime.role == Role.BACKUP:
                self._now_requested = False
                await self.engine.run_once("sync now")
                continue
            wait = await asyncio.to_thread(self._seconds_until_due)
            if wait is not None and wait <= 0:
                await self.engine.run_once("scheduled")
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=min(wait if wait is not None else 5.0, 5.0))
