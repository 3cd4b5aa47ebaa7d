"""Site data: the one write path for settings, users, sessions and recordings, and the digest."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from pa_console.agent.errors import AgentError
from pa_console.agent.store.blobs import read_chunks
from pa_console.agent.store.db import Database
from pa_console.agent.store.rows import KINDS, add_hash, digest_hex, row_hash, sub_hash
from pa_console.protocol.constants import CHUNK_SIZE
from pa_console.protocol.models import SiteDigest


def meta_get(conn: sqlite3.Connection, key: str, default: str) -> str:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return str(row[0]) if row else default


def meta_set(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))


def next_seq(conn: sqlite3.Connection) -> int:
    seq = int(meta_get(conn, "last_seq", "0")) + 1
    meta_set(conn, "last_seq", str(seq))
    return seq


def get_digest_sum(conn: sqlite3.Connection) -> int:
    return int(meta_get(conn, "digest_sum", "0"))


def set_digest_sum(conn: sqlite3.Connection, total: int) -> None:
    meta_set(conn, "digest_sum", str(total))


def upsert_rows(conn: sqlite3.Connection, kind: str, rows: Iterable[tuple[Any, ...]]) -> int:
    """Write rows of one kind inside the caller's transaction; keeps the digest and tombstones right.

    Each row gets a change number of its own: it is the table's rowid (schema 6), so two rows given the same one
    would replace each other."""
    cols = KINDS[kind]
    key = cols[0]
    total = get_digest_sum(conn)
    placeholders = ", ".join("?" for _ in range(len(cols) + 2))
    sql = f"INSERT OR REPLACE INTO {kind} ({', '.join(cols)}, seq, rh) VALUES ({placeholders})"  # noqa: S608  # nosec B608
    count = 0
    for row in rows:
        old = conn.execute(f"SELECT rh FROM {kind} WHERE {key} = ?", (row[0],)).fetchone()  # noqa: S608  # nosec B608
        if old is not None:
            total = sub_hash(total, old[0])
        rh = row_hash(kind, row)
        total = add_hash(total, rh)
        conn.execute(sql, (*row, next_seq(conn), rh))
        conn.execute("DELETE FROM tombstones WHERE kind = ? AND id = ?", (kind, row[0]))
        count += 1
    set_digest_sum(conn, total)
    return count


def delete_row(conn: sqlite3.Connection, kind: str, item_id: str) -> bool:
    key = KINDS[kind][0]
    old = conn.execute(f"SELECT rh FROM {kind} WHERE {key} = ?", (item_id,)).fetchone()  # noqa: S608  # nosec B608
    if old is None:
        return False
    set_digest_sum(conn, sub_hash(get_digest_sum(conn), old[0]))
    conn.execute(f"DELETE FROM {kind} WHERE {key} = ?", (item_id,))  # noqa: S608  # nosec B608
    conn.execute("INSERT OR REPLACE INTO tombstones(kind, id, seq) VALUES (?, ?, ?)",
                 (kind, item_id, next_seq(conn)))
    return True


class SiteWriteRefused(AgentError):
    """A site-data write on an appliance that is not the one serving the site (a backup, or a fenced old primary)."""

    def __init__(self, detail: str) -> None:
        super().__init__(409, detail, "role")


def check_writable(conn: sqlite3.Connection) -> None:
    """Inside the write transaction: refuse unless this appliance may write site data.

    Checked in the same transaction as the write, so a fence (role and epoch changed in one transaction) and a write
    are ordered by SQLite's write lock: a write is either committed before the fence (and so kept aside if the peer
    never confirmed it) or refused after it. Never acknowledged and then lost."""
    role = conn.execute("SELECT value FROM local WHERE key = 'role'").fetchone()
    fence = conn.execute("SELECT value FROM local WHERE key = 'fence'").fetchone()
    if fence is not None:
        raise SiteWriteRefused("This appliance is fenced: its peer became the primary at a higher epoch, so it no "
                               "longer accepts site data or settings; write to the primary at the shared address.")
    if role is not None and orjson.loads(role[0]) == "backup":
        raise SiteWriteRefused("This appliance is a backup: it receives site data and settings from its primary "
                               "with each sync; change them on the primary.")


@dataclass
class RecordingWritten:
    id: str
    size: int
    sha256: str


class SiteStore:
    """The site data of one appliance, written only through here (API, seed and sync alike)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- settings -------------------------------------------------------------------------------------------
    def get_setting(self, key: str) -> Any | None:
        row = self.db.connect().execute("SELECT value FROM site_settings WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def set_setting(self, key: str, value: Any) -> None:
        with self.db.write() as conn:
            check_writable(conn)
            upsert_rows(conn, "site_settings", [(key, orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode())])

    def update_setting(self, key: str, change: Callable[[Any], Any]) -> Any:
        """Read, change and write one setting in one write transaction: two PUTs at once never lose one another."""
        with self.db.write() as conn:
            check_writable(conn)
            row = conn.execute("SELECT value FROM site_settings WHERE key = ?", (key,)).fetchone()
            value = change(orjson.loads(row[0]) if row else None)
            upsert_rows(conn, "site_settings", [(key, orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode())])
        return value

    # -- users and sessions ---------------------------------------------------------------------------------
    def add_user(self, user_id: str, name: str, email: str, role: str) -> None:
        with self.db.write() as conn:
            check_writable(conn)
            upsert_rows(conn, "users", [(user_id, name, email, role)])

    def add_sessions(self, rows: list[tuple[Any, ...]]) -> None:
        with self.db.write() as conn:
            check_writable(conn)
            upsert_rows(conn, "sessions", rows)

    def exists(self, kind: str, item_id: str) -> bool:
        key = KINDS[kind][0]
        row = self.db.connect().execute(f"SELECT 1 FROM {kind} WHERE {key} = ?", (item_id,)).fetchone()  # noqa: S608  # nosec B608
        return row is not None

    def delete(self, kind: str, item_id: str) -> bool:
        sha = self._sha_of(item_id) if kind == "recordings" else None
        with self.db.write() as conn:
            check_writable(conn)
            deleted = delete_row(conn, kind, item_id)
        if deleted and sha is not None:
            # Its file goes unless another recording has the same content (the collector checks, under the lock).
            self.db.blobs.collect(self.db.connect(), grace_s=0, only=[sha])
        return deleted

    def _sha_of(self, recording_id: str) -> str | None:
        row = self.db.connect().execute("SELECT sha256 FROM recordings WHERE id = ?", (recording_id,)).fetchone()
        return str(row[0]) if row else None

    # -- recordings -----------------------------------------------------------------------------------------
    def write_recording(self, chunks: Iterable[bytes], recording_id: str | None = None) -> RecordingWritten:
        """Stream a recording into its file (store/blobs.py); it becomes visible only once complete, with its row.

        The file is written, fsynced and renamed to its SHA-256 first; the row that references it is committed
        after, in a transaction that checks the file is (still) there."""
        rid = recording_id or uuid.uuid4().hex
        blobs = self.db.blobs
        old = self._sha_of(rid)
        with blobs.written(chunks) as (sha, size), self.db.write() as wconn:
            refused: SiteWriteRefused | None = None
            try:
                check_writable(wconn)
            except SiteWriteRefused as exc:
                refused = exc
            if refused is None:
                if not blobs.has(sha):
                    raise AgentError(503, "The recording's file vanished before it was recorded; send it again.",
                                     "storage")
                upsert_rows(wconn, "recordings", [(rid, size, sha, CHUNK_SIZE)])
        if refused is not None or (old is not None and old != sha):
            # A refused write leaves nothing behind; a recording written again may leave its old content unused.
            blobs.collect(self.db.connect(), grace_s=0, only=[sha if refused is not None else str(old)])
        if refused is not None:
            raise refused
        return RecordingWritten(rid, size, sha)

    def read_recording(self, recording_id: str, from_chunk: int = 0) -> Iterator[bytes]:
        """Yield a recording's chunks one by one (never the whole recording in memory)."""
        row = self.db.connect().execute("SELECT sha256, chunk_size FROM recordings WHERE id = ?",
                                        (recording_id,)).fetchone()
        if row is None or not self.db.blobs.has(row[0]):
            return
        yield from read_chunks(self.db.blobs.path(row[0]), int(row[1]) or CHUNK_SIZE, from_chunk)

    # -- digest ---------------------------------------------------------------------------------------------
    def digest(self) -> SiteDigest:
        with self.db.read() as conn:
            return digest_in(conn)

    def digest_sha256(self) -> str:
        """The digest alone (one row read, unlike `digest`'s counts): equal on two appliances exactly when their
        rows' recorded hashes are."""
        return digest_hex(get_digest_sum(self.db.connect()))

    def last_seq(self) -> int:
        return int(meta_get(self.db.connect(), "last_seq", "0"))


def digest_in(conn: sqlite3.Connection) -> SiteDigest:
    def count(sql: str) -> int:
        return int(conn.execute(sql).fetchone()[0] or 0)

    return SiteDigest(
        sessions=count("SELECT COUNT(*) FROM sessions"),
        recordings=count("SELECT COUNT(*) FROM recordings"),
        recording_bytes=count("SELECT SUM(size) FROM recordings"),
        users=count("SELECT COUNT(*) FROM users"),
        settings=count("SELECT COUNT(*) FROM site_settings"),
        sha256=digest_hex(get_digest_sum(conn)),
        seq=int(meta_get(conn, "last_seq", "0")),
    )
