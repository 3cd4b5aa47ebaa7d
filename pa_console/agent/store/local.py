"""Local state of this appliance: never synchronised (role, epoch, relationship, failover settings, sync state)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from pa_console.agent.store.db import Database


class LocalStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str, default: Any = None) -> Any:
        row = self.db.connect().execute("SELECT value FROM local WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else default

    def set(self, key: str, value: Any) -> None:
        with self.db.write() as conn:
            set_in(conn, key, value)

    def update(self, key: str, change: Callable[[Any], Any]) -> Any:
        """Read, change and write one value in one write transaction (BEGIN IMMEDIATE), so that two changes at
        once never lose one another: ten settings PUTs at once each answered 200 and most of them were lost."""
        with self.db.write() as conn:
            row = conn.execute("SELECT value FROM local WHERE key = ?", (key,)).fetchone()
            value = change(orjson.loads(row[0]) if row else None)
            set_in(conn, key, value)
        return value

    def delete(self, key: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM local WHERE key = ?", (key,))


def set_in(conn: Any, key: str, value: Any) -> None:
    conn.execute("INSERT INTO local(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 (key, orjson.dumps(value).decode()))
