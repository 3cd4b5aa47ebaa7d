"""Schema migrations: versioned, applied in order, and safe for a sync staged by the older agent."""

from __future__ import annotations

import hashlib
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pa_console.agent.store import db as db_module
from pa_console.agent.store.blobs import blob_root
from pa_console.agent.store.db import Database, StoreError
from pa_console.agent.store.migrations import MIGRATIONS, RECORDING_FILES_SCHEMA, SEQ_ROWID_SCHEMA
from pa_console.agent.store.rows import KINDS
from pa_console.agent.store.site import SiteStore, delete_row, digest_in, upsert_rows
from pa_console.protocol.constants import CHUNK_SIZE


def _at_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:version], start=1):
        assert isinstance(script, str)  # schemas 1-4 are SQL
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


# -- schema 5: recordings leave SQLite for files ---------------------------------------------------------------------

_KILL_AFTER_FILES = """
import os, signal, sys
from pathlib import Path
from pa_console.agent.store import blobs
from pa_console.agent.store.db import Database

left = [int(sys.argv[2])]
real = blobs.BlobStore.install

def install(self, written, sha):
    real(self, written, sha)
    left[0] -= 1
    if left[0] == 0:
        os.kill(os.getpid(), signal.SIGKILL)  # a crash right after a file got its final name

blobs.BlobStore.install = install
Database(Path(sys.argv[1]))
"""


def _v4_store(path: Path) -> dict[str, bytes]:
    """A store as the schema-4 agent wrote it: rows through the write path, content in `recording_chunks` (1 MiB
    chunks), a sync's download in progress (a staged recording with some of its chunks), and two recordings with
    the same content."""
    _at_version(path, 4)
    rng = random.Random(4)
    contents = {f"r{n}": rng.randbytes(size) for n, size in enumerate(
        [0, 10, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE - 5, 200_000])}
    contents["twin"] = contents["r4"]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for rid, content in contents.items():
        chunks = [content[i:i + CHUNK_SIZE] for i in range(0, len(content), CHUNK_SIZE)] or [b""]
        conn.executemany("INSERT INTO recording_chunks(recording_id, idx, data) VALUES (?, ?, ?)",
                         [(rid, i, c) for i, c in enumerate(chunks)])
        upsert_rows(conn, "recordings", [(rid, len(content), hashlib.sha256(content).hexdigest(), CHUNK_SIZE)])
    upsert_rows(conn, "sessions", [("s1", "u", "t", "ssh", "now", None, "r1")])
    downloading = rng.randbytes(3 * CHUNK_SIZE)
    conn.execute("INSERT INTO stage_recordings VALUES ('d', ?, ?, ?, 9, x'00')",
                 (len(downloading), hashlib.sha256(downloading).hexdigest(), CHUNK_SIZE))
    conn.executemany("INSERT INTO recording_chunks(recording_id, idx, data) VALUES ('d', ?, ?)",
                     [(0, downloading[:CHUNK_SIZE]), (1, downloading[CHUNK_SIZE:2 * CHUNK_SIZE])])
    conn.execute("COMMIT")
    conn.close()
    contents["d (partial)"] = downloading[:2 * CHUNK_SIZE]
    return contents


def _digest(path: Path) -> tuple[object, ...]:
    conn = sqlite3.connect(path)
    try:
        d = digest_in(conn)
        return d.sha256, d.recordings, d.recording_bytes, d.sessions
    finally:
        conn.close()


def _check_migrated(path: Path, contents: dict[str, bytes], digest: tuple[object, ...]) -> None:
    db = Database(path)
    try:
        assert db.schema_version() == len(MIGRATIONS) >= RECORDING_FILES_SCHEMA
        conn = db.connect()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "recording_chunks" not in tables
        assert _digest(path) == digest
        site = SiteStore(db)
        for rid, content in contents.items():
            if rid == "d (partial)":
                sha = conn.execute("SELECT sha256 FROM stage_recordings WHERE id = 'd'").fetchone()[0]
                assert db.blobs.partial_path(sha).read_bytes() == content  # the download resumes from here
            else:
                assert b"".join(site.read_recording(rid)) == content, rid
        assert len(list(db.blobs.final.iterdir())) == len(contents) - 2  # the twins share one file
        assert list(db.blobs.tmp.iterdir()) == []
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()


def test_a_schema_4_store_moves_its_recordings_into_files_with_the_same_digest(tmp_path: Path) -> None:
    path = tmp_path / "site.db"
    contents = _v4_store(path)
    before, size_before = _digest(path), path.stat().st_size
    _check_migrated(path, contents, before)
    assert path.stat().st_size < size_before / 4  # the chunks' pages were given back (VACUUM)


@pytest.mark.parametrize("files_before_the_kill", [1, 3, 6])  # 6: every file made, the table not dropped
def test_a_migration_killed_midway_is_finished_by_the_next_start(tmp_path: Path, files_before_the_kill: int) -> None:
    path = tmp_path / "site.db"
    contents = _v4_store(path)
    before = _digest(path)
    proc = subprocess.run([sys.executable, "-c", _KILL_AFTER_FILES, str(path), str(files_before_the_kill)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (4,)  # nothing committed: still schema 4, whole
    assert conn.execute("SELECT COUNT(DISTINCT recording_id) FROM recording_chunks").fetchone() == (8,)
    conn.close()
    assert len(list(blob_root(path).joinpath("by-sha256").iterdir())) == files_before_the_kill
    _check_migrated(path, contents, before)


def test_an_agent_of_schema_4_refuses_a_store_with_recording_files(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "site.db"
    Database(path).close()
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS[:RECORDING_FILES_SCHEMA - 1])
    with pytest.raises(StoreError, match="newer pa-agent"):
        Database(path)


# -- schema 6: change numbers are the site tables' rowids ------------------------------------------------------------

def _site(conn: sqlite3.Connection, prefix: str = "") -> dict[str, list[tuple[object, ...]]]:
    return {kind: conn.execute(f"SELECT {', '.join(cols)}, seq, rh FROM {prefix}{kind} ORDER BY seq").fetchall()
            for kind, cols in KINDS.items()}


def test_schema_6_makes_change_numbers_the_rowids_and_keeps_data_digest_and_a_staged_sync(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "site.db"
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS[:SEQ_ROWID_SCHEMA - 1])
    db = Database(path)
    staging_doc = '{"store_id": "p", "base": 0, "resume": {"sessions": 99}, "attempts": 1, "rows": 1, "sum": "0"}'
    with db.write() as conn:
        upsert_rows(conn, "sessions", [(f"s{i}", "u", "t", "ssh", "now", None, None) for i in range(50)])
        upsert_rows(conn, "users", [("u", "U", "u@example.com", "admin")])
        upsert_rows(conn, "site_settings", [("k", '"v"')])
        delete_row(conn, "sessions", "s3")
        upsert_rows(conn, "sessions", [("s1", "u", "t", "rdp", "later", None, None)])  # rewritten: a new number
        # A backup's sync in progress: its staged rows and resume point continue after the upgrade.
        conn.execute("INSERT INTO stage_sessions VALUES ('x', 'u', 't', 'ssh', 'now', NULL, NULL, 99, x'00')")
        conn.execute("INSERT INTO local(key, value) VALUES ('sync_staging', ?)", (staging_doc,))
        site, staged, digest = _site(conn), _site(conn, "stage_"), digest_in(conn)
    db.close()
    monkeypatch.undo()
    db = Database(path)
    try:
        assert db.schema_version() == len(MIGRATIONS) >= SEQ_ROWID_SCHEMA
        conn = db.connect()
        assert _site(conn) == site and _site(conn, "stage_") == staged and digest_in(conn) == digest
        assert conn.execute("SELECT value FROM local WHERE key = 'sync_staging'").fetchone() == (staging_doc,)
        for kind in KINDS:
            for prefix in ("", "stage_"):
                assert conn.execute(f"SELECT count(*) FROM {prefix}{kind} WHERE rowid != seq").fetchone() == (0,)
                pk = [r[1] for r in conn.execute(f"PRAGMA table_info({prefix}{kind})") if r[5]]
                assert pk == ["seq"], (prefix, kind)
            indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                                                  "tbl_name = ? AND sql IS NOT NULL", (kind,))}
            assert indexes == {f"{kind}_key"}
        with pytest.raises(sqlite3.IntegrityError):  # keys stay unique
            conn.execute("INSERT INTO sessions VALUES ('s1', 'u', 't', 'ssh', 'x', NULL, NULL, 1000, x'00')")
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()
