"""The event log: numbered, timestamped, kept across restarts (at least the last EVENTS_KEPT)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from pa_console.agent.store.db import Database
from pa_console.protocol.constants import EVENTS_KEPT
from pa_console.protocol.models import Event

_PRUNE_EVERY = 500


class EventLog:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._since_prune = 0

    def append(self, type_: str, data: dict[str, Any]) -> Event:
        return self.append_many([(dt.datetime.now(dt.UTC), type_, data)])[-1]

    def append_many(self, items: list[tuple[dt.datetime, str, dict[str, Any]]]) -> list[Event]:
        """Several events in one transaction, numbered in order."""
        events = []
        with self.db.write() as conn:
            for ts, type_, data in items:
                cur = conn.execute("INSERT INTO events(ts, type, data) VALUES (?, ?, ?)",
                                   (ts.isoformat(), type_, orjson.dumps(data).decode()))
                events.append(Event(id=int(cur.lastrowid or 0), ts=ts, type=type_, data=data))
            self._since_prune += len(items)
            if self._since_prune >= _PRUNE_EVERY:
                self._since_prune = 0
                # Keep twice what we promise, so a client a little behind still finds what it asks for.
                conn.execute("DELETE FROM events WHERE id <= ?", (events[-1].id - 2 * EVENTS_KEPT,))
        return events

    def after(self, after_id: int, limit: int = 1000) -> list[Event]:
        rows = self.db.connect().execute(
            "SELECT id, ts, type, data FROM events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)).fetchall()
        return [Event(id=r[0], ts=dt.datetime.fromisoformat(r[1]), type=r[2], data=orjson.loads(r[3])) for r in rows]

    def last_id(self) -> int:
        row = self.db.connect().execute("SELECT MAX(id) FROM events").fetchone()
        return int(row[0] or 0)
