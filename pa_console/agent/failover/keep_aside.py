"""Split brain: what a demoted primary wrote that its peer never confirmed is kept aside, never silently replaced.

Exactly what diverged, found by change number: every row (and tombstone) whose change number is above the last one
the backup confirmed it had applied (`peer_confirmed`), with the content of the recordings among them
(from their files, as chunks in the kept file). When nothing
diverged, nothing is written at all. The copy is a small SQLite file with the site tables' columns, 0600 in a 0700
folder; it never holds the relationship (which holds the peer token).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from pa_console.agent.store import blobs
from pa_console.agent.store.rows import KINDS

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def split_brain_dir(data_root: Path) -> Path:
    return data_root / "split-brain"


def file_safe(name: str) -> str:
    """An appliance name as one path component: any name may be given (`dc1/pa-a`, `..`, spaces)."""
    cleaned = _UNSAFE.sub("_", name).strip("._")
    return cleaned[:80] or "appliance"


@dataclass(frozen=True)
class Kept:
    path: Path | None  # None: nothing diverged, nothing written
    since_seq: int
    upto_seq: int
    rows: dict[str, int] = field(default_factory=dict)  # per kind (and "tombstones"), only those with rows

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def diverged_rows(conn: sqlite3.Connection, since_seq: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind in [*KINDS, "tombstones"]:
        n = int(conn.execute(f"SELECT COUNT(*) FROM {kind} WHERE seq > ?",  # noqa: S608  # nosec B608 - from KINDS
                             (since_seq,)).fetchone()[0])
        if n:
            counts[kind] = n
    return counts


def _keep_content(conn: sqlite3.Connection, store: blobs.BlobStore) -> None:
    """The kept recordings' content, chunk by chunk from their files, as `recording_chunks` in the kept file (the
    table schema 4 had in the store itself): the copy is one self-contained file. A file already gone (deleted or
    dropped by a scrub) is kept as no chunks."""
    conn.execute("CREATE TABLE kept.recording_chunks (recording_id TEXT NOT NULL, idx INTEGER NOT NULL, "
                 "data BLOB NOT NULL, PRIMARY KEY (recording_id, idx))")
    for rid, sha, chunk_size in conn.execute("SELECT id, sha256, chunk_size FROM kept.recordings").fetchall():
        if not store.has(sha) or not isinstance(chunk_size, int) or chunk_size <= 0:
            continue
        with contextlib.suppress(FileNotFoundError):
            for idx, data in enumerate(blobs.read_chunks(store.path(sha), chunk_size)):
                conn.execute("INSERT INTO kept.recording_chunks VALUES (?, ?, ?)", (rid, idx, data))


def keep_diverged(db_path: Path, data_root: Path, name: str, epoch: int, since_seq: int) -> Kept:
    """Copy what changed after `since_seq` into split-brain/<time>-<name>-epoch<N>.db. Blocking: use a thread.

    Raises OSError or sqlite3.Error (a full disk, a read-only folder); then no partial file is left behind."""
    conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    target: Path | None = None
    try:
        conn.execute("BEGIN")
        upto = int((conn.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone() or ["0"])[0])
        counts = diverged_rows(conn, since_seq)
        conn.execute("COMMIT")
        if not counts:
            return Kept(None, since_seq, upto)
        folder = split_brain_dir(data_root)
        folder.mkdir(mode=0o700, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = folder / f"{stamp}-{file_safe(name)}-epoch{epoch}.db"
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        conn.execute("ATTACH DATABASE ? AS kept", (str(target),))
        conn.execute("BEGIN")  # one snapshot of the store for every table copied
        for kind in [*KINDS, "tombstones"]:
            conn.execute(f"CREATE TABLE kept.{kind} AS SELECT * FROM main.{kind} WHERE seq > ?",  # noqa: S608  # nosec B608
                         (since_seq,))
        _keep_content(conn, blobs.for_path(db_path))
        conn.execute("CREATE TABLE kept.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.executemany("INSERT INTO kept.meta VALUES (?, ?)", [
            ("appliance", name), ("epoch", str(epoch)), ("since_seq", str(since_seq)), ("upto_seq", str(upto)),
            ("store_id", str((conn.execute("SELECT value FROM main.meta WHERE key = 'store_id'").fetchone()
                              or [""])[0]))])
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE kept")
        return Kept(target, since_seq, upto, counts)
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        if target is not None:
            for leftover in (target, target.with_name(target.name + "-journal")):
                with contextlib.suppress(OSError):
                    leftover.unlink()
        raise
    finally:
        conn.close()
