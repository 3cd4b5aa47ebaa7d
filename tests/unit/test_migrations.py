"""Schema migrations: versioned, applied in order, and safe for a sync staged by the older agent."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pa_console.agent.store.db import Database, StoreError
from pa_console.agent.store.migrations import MIGRATIONS


def _at_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:version], start=1):
        for statement in script.split(";\n"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.close()


def test_new_store_is_at_the_latest_version(tmp_path: Path) -> None:
    db = Database(tmp_path / "site.db")
    assert db.schema_version() == len(MIGRATIONS)
    db.close()


def test_upgrade_mid_sync_drops_the_old_staging_and_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "site.db"
    _at_version(path, 2)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO local(key, value) VALUES ('sync_staging', '{\"resume\": {\"sessions\": 9}}')")
    conn.execute("INSERT INTO local(key, value) VALUES ('role', '\"backup\"')")
    conn.execute("INSERT INTO stage_sessions VALUES ('s1', 'u', 't', 'ssh', 'now', NULL, NULL)")
    conn.close()
    db = Database(path)
    assert db.schema_version() == len(MIGRATIONS)
    c = db.connect()
    assert c.execute("SELECT value FROM local WHERE key = 'sync_staging'").fetchone() is None
    assert c.execute("SELECT value FROM local WHERE key = 'role'").fetchone() == ('"backup"',)
    assert c.execute("SELECT COUNT(*) FROM stage_sessions").fetchone() == (0,)
    db.close()


def test_upgrade_to_unique_key_indexes_keeps_site_data_and_its_rules(tmp_path: Path) -> None:
    path = tmp_path / "site.db"
    _at_version(path, 3)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO sessions VALUES ('s1', 'u', 't', 'ssh', 'now', NULL, NULL, 7, x'01')")
    conn.execute("INSERT INTO users VALUES ('u', 'U', 'u@example.com', 'admin', 8, x'02')")
    conn.execute("INSERT INTO stage_pages(kind, page) VALUES ('sessions', '{}')")
    conn.close()
    db = Database(path)
    c = db.connect()
    assert c.execute("SELECT id, seq, rh FROM sessions").fetchall() == [("s1", 7, b"\x01")]
    assert c.execute("SELECT id, seq FROM users").fetchall() == [("u", 8)]
    # The key is still unique: a write of the same key replaces the row.
    c.execute("INSERT OR REPLACE INTO sessions VALUES ('s1', 'u', 't', 'rdp', 'now', NULL, NULL, 9, x'03')")
    assert c.execute("SELECT protocol, seq FROM sessions").fetchall() == [("rdp", 9)]
    tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "stage_pages" not in tables and {"stage_sessions", "stage_tombstones"} <= tables
    db.close()


def test_a_store_from_a_newer_agent_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "site.db"
    Database(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    try:
        Database(path)
    except StoreError as exc:
        assert "newer pa-agent" in str(exc)
    else:
        raise AssertionError("a newer schema was accepted")
