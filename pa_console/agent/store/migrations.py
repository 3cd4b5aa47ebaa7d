"""Versioned schema migrations, applied in order inside one transaction each."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator

from pa_console.agent.store import blobs

# Synchronised site tables carry `seq` (the change number of their last write, for incremental pulls) and `rh`
# (a hash of the row, summed into the site digest). Deletions leave tombstones so a backup can pull them too.
_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE local (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE users (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL,
    seq INTEGER NOT NULL, rh BLOB NOT NULL);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, target TEXT NOT NULL, protocol TEXT NOT NULL,
    started_at TEXT NOT NULL, ended_at TEXT, recording_id TEXT,
    seq INTEGER NOT NULL, rh BLOB NOT NULL);
CREATE TABLE recordings (
    id TEXT PRIMARY KEY, size INTEGER NOT NULL, sha256 TEXT NOT NULL, chunk_size INTEGER NOT NULL,
    seq INTEGER NOT NULL, rh BLOB NOT NULL);
CREATE TABLE site_settings (
    key TEXT PRIMARY KEY, value TEXT NOT NULL, seq INTEGER NOT NULL, rh BLOB NOT NULL);
CREATE TABLE tombstones (kind TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (kind, id));
CREATE INDEX users_seq ON users(seq);
CREATE INDEX sessions_seq ON sessions(seq);
CREATE INDEX recordings_seq ON recordings(seq);
CREATE INDEX site_settings_seq ON site_settings(seq);
CREATE INDEX tombstones_seq ON tombstones(seq);

-- Recording content, chunked so that no recording is ever held whole in memory. Chunks of a recording whose
-- row is not (yet) in `recordings` are invisible: a backup writes them as they arrive and commits the row last.
CREATE TABLE recording_chunks (
    recording_id TEXT NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (recording_id, idx));

CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL);
"""

# A migration is SQL run statement by statement, or a function for what SQL alone cannot do (files).
Migration = str | Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = [_V1]

# v2: staging area of a backup's sync in progress (same file as the site data, so the final apply is one
# atomic transaction), and a store id so that a backup knows whose change numbers it holds.
_V2 = """
CREATE TABLE stage_site_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE stage_users (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL);
CREATE TABLE stage_recordings (id TEXT PRIMARY KEY, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
    chunk_size INTEGER NOT NULL);
CREATE TABLE stage_sessions (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, target TEXT NOT NULL,
    protocol TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT, recording_id TEXT);
CREATE TABLE stage_tombstones (kind TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (kind, id));
"""

MIGRATIONS.append(_V2)

# v3: a backup stages the pages it pulls as they arrived (one row a page, not one a record): staging costs almost
# nothing, and the apply replays them in order, so a later attempt's rows and tombstones win over an earlier one's.
# A sync staged by an older agent is dropped with its resume point: the next sync starts it again.
_V3 = """
DROP TABLE stage_site_settings;
DROP TABLE stage_users;
DROP TABLE stage_recordings;
DROP TABLE stage_sessions;
DROP TABLE stage_tombstones;
CREATE TABLE stage_pages (n INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, page BLOB NOT NULL);
DELETE FROM local WHERE key = 'sync_staging';
"""

MIGRATIONS.append(_V3)

# v4: bulk sync. The site tables' keys become explicit unique indexes (`<kind>_key`) instead of PRIMARY KEYs, and a
# backup stages the rows it pulls into unindexed copies of the site tables (`stage_<kind>`, same columns, `seq` =
# the primary's change number): appending there is cheap, and a full copy is applied by swapping the staged table in
# and building its indexes once by sorting, instead of inserting a million random keys into a B-tree. The swap
# re-creates tables and indexes from their own definitions in sqlite_master, so the two must stay alike: change them
# together in a later migration. A sync staged by an older agent is dropped with its resume point.
_V4 = """
CREATE TABLE site_settings_v4 (key TEXT NOT NULL, value TEXT NOT NULL, seq INTEGER NOT NULL, rh BLOB NOT NULL);
INSERT INTO site_settings_v4 SELECT key, value, seq, rh FROM site_settings;
DROP TABLE site_settings;
ALTER TABLE site_settings_v4 RENAME TO site_settings;
CREATE UNIQUE INDEX site_settings_key ON site_settings(key);
CREATE INDEX site_settings_seq ON site_settings(seq);
CREATE TABLE users_v4 (
    id TEXT NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL,
    seq INTEGER NOT NULL, rh BLOB NOT NULL);
INSERT INTO users_v4 SELECT id, name, email, role, seq, rh FROM users;
DROP TABLE users;
ALTER TABLE users_v4 RENAME TO users;
CREATE UNIQUE INDEX users_key ON users(id);
CREATE INDEX users_seq ON users(seq);
CREATE TABLE recordings_v4 (
    id TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, chunk_size INTEGER NOT NULL,
    seq INTEGER NOT NULL, rh BLOB NOT NULL);
INSERT INTO recordings_v4 SELECT id, size, sha256, chunk_size, seq, rh FROM recordings;
DROP TABLE recordings;
ALTER TABLE recordings_v4 RENAME TO recordings;
CREATE UNIQUE INDEX recordings_key ON recordings(id);
CREATE INDEX recordings_seq ON recordings(seq);
CREATE TABLE sessions_v4 (
    id TEXT NOT NULL, user_id TEXT NOT NULL, target TEXT NOT NULL, protocol TEXT NOT NULL,
    started_at TEXT NOT NULL, ended_at TEXT, recording_id TEXT,
    seq INTEGER NOT NULL, rh BLOB NOT NULL);
INSERT INTO sessions_v4 SELECT id, user_id, target, protocol, started_at, ended_at, recording_id, seq, rh FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_v4 RENAME TO sessions;
CREATE UNIQUE INDEX sessions_key ON sessions(id);
CREATE INDEX sessions_seq ON sessions(seq);
DROP TABLE stage_pages;
CREATE TABLE stage_site_settings (key TEXT NOT NULL, value TEXT NOT NULL, seq INTEGER NOT NULL, rh BLOB NOT NULL);
CREATE TABLE stage_users (
    id TEXT NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL,
    seq INTEGER NOT NULL, rh BLOB NOT NULL);
CREATE TABLE stage_recordings (
    id TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, chunk_size INTEGER NOT NULL,
    seq INTEGER NOT NULL, rh BLOB NOT NULL);
CREATE TABLE stage_sessions (
    id TEXT NOT NULL, user_id TEXT NOT NULL, target TEXT NOT NULL, protocol TEXT NOT NULL,
    started_at TEXT NOT NULL, ended_at TEXT, recording_id TEXT,
    seq INTEGER NOT NULL, rh BLOB NOT NULL);
CREATE TABLE stage_tombstones (kind TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL);
DELETE FROM local WHERE key = 'sync_staging';
"""

MIGRATIONS.append(_V4)


def _v5_recordings_to_files(conn: sqlite3.Connection) -> None:
    """v5: recording content leaves the database for files written once (store/blobs.py).

    Every recording's chunks become its file (written, fsynced, renamed: a file either has its final name and is
    whole, or is a leftover in tmp/ that is collected), the chunks of a recording a backup was still downloading
    become its partial file (so the download resumes), then the table is dropped, in the caller's transaction. A
    crash anywhere before the commit leaves schema 4 and the files made so far: the next start makes the others
    (a file already in place is kept) and finishes. Rows and their hashes are not touched, so the digest is the
    same. A recording whose chunks are missing gets no file (the scrub reports it as before); one whose chunks do
    not hash to its SHA-256 keeps its bytes under the recorded name, for the scrub to report."""
    store = blobs.for_conn(conn)
    store.ensure()
    todo = [(rid, sha) for rid, sha in conn.execute("SELECT id, sha256 FROM recordings")
            if blobs.valid_sha(sha) and not store.has(sha)]
    need = sum(int(conn.execute("SELECT coalesce(sum(length(data)), 0) FROM recording_chunks WHERE recording_id = ?",
                                (rid,)).fetchone()[0]) for rid, _ in todo)
    free = shutil.disk_usage(store.root).free
    if need and free < need + _MIGRATION_SLACK_BYTES:
        raise MigrationError(
            f"Moving the recordings out of the database into files (schema 5) needs about {need // 2**20 + 16} MiB "
            f"free in {store.root.parent} and there are {free // 2**20} MiB; free space there and start again "
            "(nothing was changed).")
    for rid, sha in todo:
        if store.has(sha):
            continue  # two recordings with the same content: one file
        if conn.execute("SELECT 1 FROM recording_chunks WHERE recording_id = ? LIMIT 1", (rid,)).fetchone():
            store.write(_chunks(conn, rid), expected_sha=sha)
    staged = conn.execute("SELECT id, sha256, max(seq) FROM stage_recordings GROUP BY id").fetchall()
    for rid, sha, _ in staged:
        if not blobs.valid_sha(sha) or store.has(sha) or store.partial_path(sha).exists():
            continue
        _partial(conn, store, rid, sha)
    conn.execute("DROP TABLE recording_chunks")


def _chunks(conn: sqlite3.Connection, rid: str) -> Iterator[bytes]:
    idx = 0
    while True:
        row = conn.execute("SELECT data FROM recording_chunks WHERE recording_id = ? AND idx = ?",
                           (rid, idx)).fetchone()
        if row is None:
            return
        yield bytes(row[0])
        idx += 1


def _partial(conn: sqlite3.Connection, store: blobs.BlobStore, rid: str, sha: str) -> None:
    """A backup's download in progress: its whole chunks from the first on become the partial file."""
    chunk_size = conn.execute("SELECT chunk_size FROM stage_recordings WHERE id = ?", (rid,)).fetchone()[0]
    tmp = store.tmp / f"migrating-{sha}"
    with open(tmp, "wb") as fh:
        for data in _chunks(conn, rid):
            if len(data) != chunk_size:
                break  # the last chunk (or a short one): fetched again with the rest
            fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, store.partial_path(sha))
    blobs.fsync_dir(store.partial)


class MigrationError(Exception):
    """A migration cannot run as things are; phrased for the administrator."""


_MIGRATION_SLACK_BYTES = 16 * 1024 * 1024

MIGRATIONS.append(_v5_recordings_to_files)
RECORDING_FILES_SCHEMA = len(MIGRATIONS)  # from this version on, recording content is in files (store/blobs.py)

# v6: each site table's change number is its rowid (`seq INTEGER PRIMARY KEY`), and the `<kind>_seq` indexes go. A
# full copy swapped in then builds one index instead of two (the change-number index was ~0.2 s of the apply per
# 1M rows), and the primary reads a page of changes as a range of its table instead of walking an index with a
# lookup per row. Change numbers are unique within a table by construction: one per write on a primary, the
# primary's (unique) ones in a backup's staging, shifted past the backup's own when merged. The staging tables
# change alike, rows and all (a page is copied record by record only into a table declared like it,
# page_image.declaration), so a sync staged before the upgrade continues after it.
_V6 = """
CREATE TABLE site_settings_v6 (key TEXT NOT NULL, value TEXT NOT NULL, seq INTEGER PRIMARY KEY, rh BLOB NOT NULL);
INSERT INTO site_settings_v6 SELECT key, value, seq, rh FROM site_settings ORDER BY seq;
DROP TABLE site_settings;
ALTER TABLE site_settings_v6 RENAME TO site_settings;
CREATE TABLE stage_site_settings_v6 (
    key TEXT NOT NULL, value TEXT NOT NULL, seq INTEGER PRIMARY KEY, rh BLOB NOT NULL);
INSERT INTO stage_site_settings_v6 SELECT key, value, seq, rh FROM stage_site_settings ORDER BY seq;
DROP TABLE stage_site_settings;
ALTER TABLE stage_site_settings_v6 RENAME TO stage_site_settings;
CREATE UNIQUE INDEX site_settings_key ON site_settings(key);
CREATE TABLE users_v6 (
    id TEXT NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL,
    seq INTEGER PRIMARY KEY, rh BLOB NOT NULL);
INSERT INTO users_v6 SELECT id, name, email, role, seq, rh FROM users ORDER BY seq;
DROP TABLE users;
ALTER TABLE users_v6 RENAME TO users;
CREATE TABLE stage_users_v6 (
    id TEXT NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL,
    seq INTEGER PRIMARY KEY, rh BLOB NOT NULL);
INSERT INTO stage_users_v6 SELECT id, name, email, role, seq, rh FROM stage_users ORDER BY seq;
DROP TABLE stage_users;
ALTER TABLE stage_users_v6 RENAME TO stage_users;
CREATE UNIQUE INDEX users_key ON users(id);
CREATE TABLE recordings_v6 (
    id TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, chunk_size INTEGER NOT NULL,
    seq INTEGER PRIMARY KEY, rh BLOB NOT NULL);
INSERT INTO recordings_v6 SELECT id, size, sha256, chunk_size, seq, rh FROM recordings ORDER BY seq;
DROP TABLE recordings;
ALTER TABLE recordings_v6 RENAME TO recordings;
CREATE TABLE stage_recordings_v6 (
    id TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, chunk_size INTEGER NOT NULL,
    seq INTEGER PRIMARY KEY, rh BLOB NOT NULL);
INSERT INTO stage_recordings_v6 SELECT id, size, sha256, chunk_size, seq, rh FROM stage_recordings ORDER BY seq;
DROP TABLE stage_recordings;
ALTER TABLE stage_recordings_v6 RENAME TO stage_recordings;
CREATE UNIQUE INDEX recordings_key ON recordings(id);
CREATE TABLE sessions_v6 (
    id TEXT NOT NULL, user_id TEXT NOT NULL, target TEXT NOT NULL, protocol TEXT NOT NULL,
    started_at TEXT NOT NULL, ended_at TEXT, recording_id TEXT,
    seq INTEGER PRIMARY KEY, rh BLOB NOT NULL);
INSERT INTO sessions_v6
    SELECT id, user_id, target, protocol, started_at, ended_at, recording_id, seq, rh FROM sessions ORDER BY seq;
DROP TABLE sessions;
ALTER TABLE sessions_v6 RENAME TO sessions;
CREATE TABLE stage_sessions_v6 (
    id TEXT NOT NULL, user_id TEXT NOT NULL, target TEXT NOT NULL, protocol TEXT NOT NULL,
    started_at TEXT NOT NULL, ended_at TEXT, recording_id TEXT,
    seq INTEGER PRIMARY KEY, rh BLOB NOT NULL);
INSERT INTO stage_sessions_v6
    SELECT id, user_id, target, protocol, started_at, ended_at, recording_id, seq, rh FROM stage_sessions ORDER BY seq;
DROP TABLE stage_sessions;
ALTER TABLE stage_sessions_v6 RENAME TO stage_sessions;
CREATE UNIQUE INDEX sessions_key ON sessions(id);
"""

MIGRATIONS.append(_V6)
SEQ_ROWID_SCHEMA = len(MIGRATIONS)  # from this version on, each site table's change number is its rowid
