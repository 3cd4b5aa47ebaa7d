"""Versioned schema migrations, applied in order inside one transaction each."""

from __future__ import annotations

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

MIGRATIONS: list[str] = [_V1]

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
