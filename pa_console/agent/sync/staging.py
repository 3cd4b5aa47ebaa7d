"""The backup's side of a pull, in the store: stage what arrives, then apply it in one transaction.

Pages of rows are staged as they arrived, in the same file as the site data, and recording chunks go straight into
place (invisible until their row is committed); so an interrupted sync leaves the previous complete copy untouched,
and the next sync continues from what is staged instead of moving it again."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from pa_console.agent.store.local import set_in
from pa_console.agent.store.rows import KINDS, MOD, digest_hex, row_hash
from pa_console.agent.store.site import get_digest_sum, meta_get, meta_set, set_digest_sum

STAGING_KEY = "sync_staging"
STATE_KEY = "sync_state"


class IntegrityError(Exception):
    pass


def _local(conn: sqlite3.Connection, key: str) -> Any:
    row = conn.execute("SELECT value FROM local WHERE key = ?", (key,)).fetchone()
    return orjson.loads(row[0]) if row else None


def clear_staging(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM stage_pages")
    conn.execute("DELETE FROM local WHERE key = ?", (STAGING_KEY,))


def wipe_site_data(conn: sqlite3.Connection) -> None:
    """Break on a backup: remove the synchronised copy (inside the caller's transaction)."""
    for kind in KINDS:
        conn.execute(f"DELETE FROM {kind}")  # noqa: S608  # nosec B608
    conn.execute("DELETE FROM recording_chunks")
    conn.execute("DELETE FROM tombstones")
    clear_staging(conn)
    set_digest_sum(conn, 0)


def begin(conn: sqlite3.Connection, header: dict[str, Any]) -> None:
    """Start (or continue) staging for the stream whose header arrived; drop staging that doesn't continue."""
    staging = _local(conn, STAGING_KEY)
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not header["resume_used"] or not staging or staging.get("store_id") != header["store_id"]:
            clear_staging(conn)
            staging = {"store_id": header["store_id"], "base": header["since"], "resume": {}}
        staging["upto"] = header["upto"]
        set_in(conn, STAGING_KEY, staging)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def stage_page(conn: sqlite3.Connection, kind: str, page: bytes, last: int) -> None:
    """One page (as it arrived), one transaction, with its resume point: a crash loses at most the page in flight."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("INSERT INTO stage_pages(kind, page) VALUES (?, ?)", (kind, page))
        staging = _local(conn, STAGING_KEY)
        staging["resume"][kind] = last
        set_in(conn, STAGING_KEY, staging)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _pages(conn: sqlite3.Connection, kind: str | None = None) -> Iterator[tuple[str, list[Any]]]:
    """The staged pages in arrival order, one at a time (bounded memory)."""
    last = 0
    while True:
        if kind is None:
            row = conn.execute("SELECT n, kind, page FROM stage_pages WHERE n > ? ORDER BY n LIMIT 1",
                               (last,)).fetchone()
        else:
            row = conn.execute("SELECT n, kind, page FROM stage_pages WHERE n > ? AND kind IN (?, 'tombstones') "
                               "ORDER BY n LIMIT 1", (last, kind)).fetchone()
        if row is None:
            return
        last = row[0]
        yield row[1], orjson.loads(row[2])["rows"]


@dataclass
class NeededRecording:
    id: str
    size: int
    sha256: str
    chunk_size: int
    have_chunks: int

    @property
    def chunks(self) -> int:
        return max(1, -(-self.size // self.chunk_size))

    @property
    def missing_bytes(self) -> int:
        return max(0, self.size - self.have_chunks * self.chunk_size)


def needed_recordings(conn: sqlite3.Connection) -> list[NeededRecording]:
    """Recordings the staged rows will make visible whose content is not (all) here yet."""
    staged: dict[str, tuple[Any, ...]] = {}
    for kind, rows in _pages(conn, "recordings"):
        if kind == "recordings":
            staged.update((r[0], tuple(r)) for r in rows)
        else:
            for k, item_id in rows:
                if k == "recordings":
                    staged.pop(item_id, None)
    needed = []
    for rid, (_, size, sha256, chunk_size) in staged.items():
        have = int(conn.execute("SELECT COUNT(*) FROM recording_chunks WHERE recording_id = ?", (rid,)).fetchone()[0])
        rec = NeededRecording(rid, size, sha256, chunk_size, have)
        if rec.have_chunks < rec.chunks:
            needed.append(rec)
    return needed


class RecordingHashes:
    """SHA-256 of each recording as its chunks are written (no second read); a resumed recording's hash starts
    from the chunks already stored."""

    def __init__(self, batch: list[NeededRecording]) -> None:
        self.recordings = {r.id: r for r in batch}
        self._sha: dict[str, Any] = {}
        self._size: dict[str, int] = {}

    def update(self, conn: sqlite3.Connection, rid: str, data: bytes | memoryview) -> None:
        if rid not in self._sha:
            sha = hashlib.sha256()
            size = 0
            for (stored,) in conn.execute("SELECT data FROM recording_chunks WHERE recording_id = ? AND idx < ? "
                                          "ORDER BY idx", (rid, self.recordings[rid].have_chunks)):
                sha.update(stored)
                size += len(stored)
            self._sha[rid], self._size[rid] = sha, size
        self._sha[rid].update(data)
        self._size[rid] += len(data)

    def damaged(self) -> list[str]:
        return [rid for rid, rec in self.recordings.items()
                if rid not in self._sha or self._size[rid] != rec.size or self._sha[rid].hexdigest() != rec.sha256]


Pieces = Sequence[bytes | memoryview]


def write_chunks(conn: sqlite3.Connection, chunks: Sequence[tuple[str, int, Pieces]],
                 hashes: RecordingHashes | None = None) -> None:
    """Write (and hash) chunks whose content is in the pieces it arrived in, in one transaction.

    Each chunk is inserted as a zeroblob of its size, then the pieces are written into it (incremental blob I/O):
    binding a whole 1 MiB chunk to the INSERT cost 2-3x the CPU (measured: SQLite copies a bound blob through fresh
    allocations of its size, each one page-faulted in), and the pieces never need to be joined."""
    if hashes is not None:
        for rid, _, pieces in chunks:
            for piece in pieces:
                hashes.update(conn, rid, piece)
    conn.execute("BEGIN IMMEDIATE")
    try:
        for rid, idx, pieces in chunks:
            size = sum(len(piece) for piece in pieces)
            ((rowid,),) = conn.execute("INSERT OR REPLACE INTO recording_chunks(recording_id, idx, data) "
                                       "VALUES (?, ?, zeroblob(?)) RETURNING rowid", (rid, idx, size)).fetchall()
            if size:
                with conn.blobopen("recording_chunks", "data", rowid) as blob:
                    for piece in pieces:
                        blob.write(piece)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def drop_damaged(conn: sqlite3.Connection, hashes: RecordingHashes) -> list[str]:
    """Recordings whose content does not match their SHA-256 are dropped, so the next sync fetches them again."""
    damaged = hashes.damaged()
    if damaged:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("DELETE FROM recording_chunks WHERE recording_id = ?", [(rid,) for rid in damaged])
        conn.execute("COMMIT")
    return damaged


def _old_hashes(conn: sqlite3.Connection, kind: str, ids: list[str]) -> dict[str, bytes]:
    key = KINDS[kind][0]
    found: dict[str, bytes] = {}
    for start in range(0, len(ids), 900):
        part = ids[start:start + 900]
        marks = ", ".join("?" for _ in part)
        sql = f"SELECT {key}, rh FROM {kind} WHERE {key} IN ({marks})"  # noqa: S608  # nosec B608 - names from KINDS
        found.update(conn.execute(sql, part).fetchall())
    return found


def apply(conn: sqlite3.Connection, expected_digest: str, report: dict[str, Any]) -> int:
    """Replay the staged pages in ONE transaction, check the digest inside it, and commit only if it matches."""
    staging = _local(conn, STAGING_KEY)
    if staging is None:
        raise IntegrityError("nothing is staged")
    conn.execute("BEGIN IMMEDIATE")
    try:
        total = get_digest_sum(conn)
        if staging["base"] == 0:
            # A full copy replaces the backup's data: what the primary does not have goes.
            for kind in KINDS:
                conn.execute(f"DELETE FROM {kind}")  # noqa: S608  # nosec B608
            total = 0
        seq = int(meta_get(conn, "last_seq", "0"))
        applied = 0
        for kind, rows in _pages(conn):
            if kind == "tombstones":
                for k, item_id in rows:
                    old = _old_hashes(conn, k, [item_id]).get(item_id)
                    if old is not None:
                        total -= int.from_bytes(old, "big")
                        conn.execute(f"DELETE FROM {k} WHERE {KINDS[k][0]} = ?", (item_id,))  # noqa: S608  # nosec B608
                        seq += 1
                        conn.execute("INSERT OR REPLACE INTO tombstones(kind, id, seq) VALUES (?, ?, ?)",
                                     (k, item_id, seq))
                        applied += 1
                continue
            cols = KINDS[kind]
            old_hashes = _old_hashes(conn, kind, [r[0] for r in rows])
            batch = []
            for values in rows:
                old = old_hashes.pop(values[0], None)
                if old is not None:
                    total -= int.from_bytes(old, "big")
                rh = row_hash(kind, values)
                total += int.from_bytes(rh, "big")
                seq += 1
                batch.append((*values, seq, rh))
            conn.executemany(f"INSERT OR REPLACE INTO {kind} ({', '.join(cols)}, seq, rh) "  # noqa: S608  # nosec B608
                             f"VALUES ({', '.join('?' for _ in range(len(cols) + 2))})", batch)
            applied += len(batch)
        total %= MOD
        conn.execute("DELETE FROM recording_chunks WHERE recording_id NOT IN (SELECT id FROM recordings)")
        got = digest_hex(total)
        report["backup_digest"] = got
        if got != expected_digest:
            raise IntegrityError("the copy would not match the primary's data (digest mismatch); nothing was "
                                 "applied and the next sync will fetch everything again")
        set_digest_sum(conn, total)
        meta_set(conn, "last_seq", str(seq))
        set_in(conn, STATE_KEY, {"store_id": staging["store_id"], "seq": staging["upto"]})
        clear_staging(conn)
        conn.execute("COMMIT")
        return applied
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def sync_position(conn: sqlite3.Connection) -> tuple[str, int, dict[str, Any] | None]:
    state = _local(conn, STATE_KEY) or {}
    return str(state.get("store_id", "")), int(state.get("seq", 0)), _local(conn, STAGING_KEY)


def forget_position(conn: sqlite3.Connection) -> None:
    """After an integrity failure: start over with a full sync next time."""
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DELETE FROM local WHERE key IN (?, ?)", (STATE_KEY, STAGING_KEY))
    clear_staging(conn)
    conn.execute("COMMIT")
