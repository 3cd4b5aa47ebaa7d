"""ApplianceMonitor: keeps one ApplianceState current from health polls and the agent's event stream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from pa_console.console.client.agent_client import AgentClient
from pa_console.console.client.errors import AgentError, ErrorCategory
from pa_console.console.client.events import EventStreamReader
from pa_console.console.client.tls import fetch_certificate, fingerprint_of_pem
from pa_console.console.fingerprints import same_fingerprint
from pa_console.console.state.appliance import REFRESH_ON, ApplianceState
from pa_console.console.state.notifier import Notifier
from pa_console.console.state.progress import Coalescer
from pa_console.console.state.status import ConnectionStatus
from pa_console.console.state.timeline import TimelineModel
from pa_console.protocol.events import SyncFailed, SyncFinished
from pa_console.protocol.models import Event, Role

log = logging.getLogger(__name__)

ALL_PARTS = frozenset({"health", "settings", "key", "relationship", "email"})
# Events older than this at arrival are history (replayed at connect): timeline only, no state change.
HISTORY_AGE_S = 30.0

_STATUS_OF = {
    ErrorCategory.CONNECTION: ConnectionStatus.OFFLINE,
    ErrorCategory.TLS: ConnectionStatus.TLS_PROBLEM,
    ErrorCategory.AUTH: ConnectionStatus.AUTH_PROBLEM,
}


class ApplianceMonitor:
    def __init__(
        self,
        state: ApplianceState,
        client: AgentClient,
        *,
        notifier: Notifier | None = None,
        timeline: TimelineModel | None = None,
        poll_interval: float = 2.0,
        max_poll_interval: float = 10.0,
        progress_interval: float = 0.25,
        on_peer_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.state = state
        self.client = client
        self._notifier = notifier
        self._timeline = timeline
        self._poll_interval = poll_interval
        self._max_poll_interval = max_poll_interval
        self._on_peer_change = on_peer_change
        self._tasks: list[asyncio.Task[None]] = []
        self._refresh_task: asyncio.Task[None] | None = None
        self._pending_parts: set[str] = set()
        self._poke = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._progress = Coalescer(self.state.set_progress, loop.call_later, interval=progress_interval)
        self._reader = EventStreamReader(client, self._on_event, on_error=self._on_stream_error)
        self._had_contact = False

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._poll_loop(), name=f"poll {self.state.ref.address}"),
            asyncio.create_task(self._reader.run(), name=f"events {self.state.ref.address}"),
        ]

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._refresh_task] if self._refresh_task else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self._progress.cancel()
        await self.client.aclose()

    def poke(self) -> None:
        """Poll now (e.g. after the user did something)."""
        self._poke.set()

    # -- polling --------
    async def _poll_loop(self) -> None:
        delay = self._poll_interval
        while True:
            try:
                await self.refresh({"health"} if self._had_contact else ALL_PARTS)
                delay = self._poll_interval
            except AgentError as exc:
                await self._set_error(exc)
                delay = min(max(delay * 2, self._poll_interval), self._max_poll_interval)
            self._poke.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), delay)

    async def refresh(self, parts: Iterable[str] = ALL_PARTS) -> None:
        """Re-read the given parts from the agent; raises AgentError."""
        parts = set(parts)
        state = self.state
        before = (state.role, state.health.peer if state.health else None)
        if "health" in parts:
            state.set_health(await self.client.health())
            if not self._had_contact:
                parts |= ALL_PARTS
            self._had_contact = True
            state.set_status(ConnectionStatus.ONLINE, "Online")
        if "settings" in parts:
            state.set_settings(await self.client.failover_settings())
        if "key" in parts:
            state.set_key_fingerprint((await self.client.key_fingerprint()).fingerprint)
        if "relationship" in parts:
            state.set_relationship(await self.client.relationship())
        # A backup's email settings are not read (it receives them by sync); once it is primary (a takeover, a
        # swap) they are: the Email pane of a new primary stayed greyed out, unexplained, for good.
        if state.role != Role.BACKUP and ("email" in parts or state.email is None):
            state.set_email(await self.client.email())
        if (state.role, state.health.peer if state.health else None) != before:
            self._on_peer_change()

    async def _set_error(self, exc: AgentError) -> None:
        status = _STATUS_OF.get(exc.category, self.state.status)
        message = exc.message
        if exc.category == ErrorCategory.TLS:
            message = await self._explain_tls(exc)
        if exc.category in _STATUS_OF:
            self.state.set_status(status, message)
        else:
            log.warning("%s: %s", self.state.ref.address, message)

    async def _explain_tls(self, exc: AgentError) -> str:
        ref = self.state.ref
        try:
            pem = await fetch_certificate(ref.host, ref.port)
        except AgentError:
            return exc.message
        presented = fingerprint_of_pem(pem)
        if not same_fingerprint(presented, ref.cert_fingerprint):
            return (
                f"WARNING: {ref.address} now presents a different certificate (SHA-256 {presented}) "
                f"than the one you trusted ({ref.cert_fingerprint}). The console refuses it. "
                "If the appliance was reinstalled, "
                "remove it and add it again; otherwise someone may be intercepting the connection."
            )
        return exc.message

    # -- events --------
    def _on_stream_error(self, exc: AgentError) -> None:
        if exc.category in (ErrorCategory.AUTH, ErrorCategory.TLS):
            self.poke()  # the poll loop sets the status with a full explanation

    def _on_event(self, event: Event) -> None:
        state = self.state
        if self._timeline is not None:
            self._timeline.add(state.ref.id, [event])
        ts = event.ts if event.ts.tzinfo else event.ts.replace(tzinfo=UTC)
        if (datetime.now(UTC) - ts).total_seconds() > HISTORY_AGE_S:
            state.last_event_id = max(state.last_event_id, event.id)
            state.events.append(event)
            return
        progress = state.apply_event(event)
        if progress is not None:
            self._progress.offer(progress)
        if isinstance(event.body, SyncFinished | SyncFailed):
            self._progress.cancel()
        if self._notifier is not None:
            self._notifier.on_event(state.name, event)
        parts = REFRESH_ON.get(event.type)
        if parts:
            self._schedule_refresh(parts)

    def _schedule_refresh(self, parts: Iterable[str]) -> None:
        self._pending_parts |= set(parts)
        if self._refresh_task is None or self._refresh_task.done():
            self._refresh_task = asyncio.create_task(self._refresh_pending())

    async def _refresh_pending(self) -> None:
        await asyncio.sleep(0.05)  # gather a burst of events into one refresh
        while self._pending_parts:
            parts, self._pending_parts = self._pending_parts, set()
            try:
                await self.refresh(parts)
            except AgentError as exc:
                await self._set_error(exc)
