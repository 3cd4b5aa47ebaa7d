"""Publishes events to the persistent log and wakes the live subscribers (SSE streams, watchers).

Events are written by a thread of their own: publishing never waits for SQLite, so the event loop (which also probes
the primary and answers the API) never stalls behind a long write transaction such as applying a big sync."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import queue
import threading
from typing import Any

from pa_console.agent.store.events import EventLog
from pa_console.protocol.events import EventBody, UnknownEvent, typed, wire_data
from pa_console.protocol.models import EventType

log = logging.getLogger(__name__)

_STOP = object()


class EventBus:
    def __init__(self, log_store: EventLog) -> None:
        self.store = log_store
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: set[asyncio.Event] = set()
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, name="event-writer", daemon=True)
            self._writer.start()

    def publish(self, event: EventBody | EventType | str, **data: Any) -> None:
        """Queue the event for the log (in order), then wake the live subscribers. Safe from any thread.

        Publish a model (`publish(Countdown(failover_in_s=12))`); a type and its fields are accepted too and typed
        here, so a field the model does not know is still published (and a type it does not know, raw)."""
        body = typed(event, data)
        if isinstance(body, UnknownEvent) and body.problem:
            log.warning("event %s does not match its model (%s); published as given", body.type, body.problem)
        type_, wire = wire_data(body)
        item = (dt.datetime.now(dt.UTC), type_, wire)
        if self._writer is None:
            self._persist([item])  # not serving (tests, tools): write at once
        else:
            self._queue.put(item)

    def _write_loop(self) -> None:
        while True:
            items = [self._queue.get()]
            while not self._queue.empty() and len(items) < 500:
                items.append(self._queue.get_nowait())
            stop = any(item is _STOP for item in items)
            self._persist([item for item in items if item is not _STOP])
            if stop:
                return

    def _persist(self, items: list[tuple[dt.datetime, str, dict[str, Any]]]) -> None:
        if not items:
            return
        try:
            events = self.store.append_many(items)
        except Exception:
            log.exception("could not record %d event(s)", len(items))
            return
        for event in events:
            log.info("event %s #%d", event.type, event.id)
        if self._loop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._wake)
            except RuntimeError:  # the loop closed meanwhile
                pass

    def flush(self) -> None:
        """Write what is queued and stop the writer (at shutdown)."""
        if self._writer is not None:
            self._queue.put(_STOP)
            self._writer.join(timeout=30)
            self._writer = None

    def _wake(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for waiter in waiters:
            waiter.set()

    def waiter(self) -> asyncio.Event:
        ev = asyncio.Event()
        with self._lock:
            self._waiters.add(ev)
        return ev

    def drop(self, ev: asyncio.Event) -> None:
        with self._lock:
            self._waiters.discard(ev)
