"""Publishes events to the persistent log and wakes the live subscribers (SSE streams, watchers)."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from pa_console.agent.store.events import EventLog
from pa_console.protocol.models import Event, EventType

log = logging.getLogger(__name__)


class EventBus:
    def __init__(self, log_store: EventLog) -> None:
        self.store = log_store
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: set[asyncio.Event] = set()
        self._lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def publish(self, type_: EventType | str, **data: Any) -> Event:
        """Record the event, then wake the live subscribers. Safe from any thread."""
        try:
            event = self.store.append(str(type_), data)
        except Exception:
            log.exception("could not record event %s", type_)
            raise
        log.info("event %s #%d", event.type, event.id)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake)
        return event

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
