"""The primary's side of a pull: a consistent stream of what changed since a point, and recording content.

Rows travel as NDJSON pages of arrays (orjson), the cheapest encoding measured here; each stream reads one SQLite
snapshot on a connection of its own, so that what the backup gets is a state the primary really had."""

from __future__ import annotations

import sqlite3
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from pa_console.agent.store.rows import KINDS, digest_hex
from pa_console.agent.store.site import get_digest_sum, meta_get, meta_set

PAGE_ROWS = 5000
# Version of the change stream: 2 sends each row's change number (the backup stages rows, not pages) and no
# tombstones in a fresh full stream. Both sides check it, so mixed versions fail with a sentence, not a mess.
FORMAT = 2
FRAME_HEADER = struct.Struct("!I")


def store_id(conn: sqlite3.Connection) -> str:
    """A random id per store: change numbers only mean something together with the store that issued them."""
    value = meta_get(conn, "store_id", "")
    if not value:
        value = uuid.uuid4().hex
        conn.execute("BEGIN IMMEDIATE")
        meta_set(conn, "store_id", value)
        conn.execute("COMMIT")
    return value


def _open(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only=ON")
    return conn


def changes(db_path: Path, own_store: str, since: int, store: str, resume: dict[str, int],
            resume_store: str, resume_base: int) -> Iterator[bytes]:
    """Messages (each a 4-byte length and JSON): a header, then pages {"k": kind, "rows": [...], "last": seq}
    and {"k": "tombstones", ...}, then {"k": "end"}. Length-prefixed because a page of rows is no "line"."""
    if store != own_store:
        since = 0  # the backup holds another store's numbers (or none): everything, from the start
    resume_used = resume_store == own_store and resume_base == since and bool(resume)
    if not resume_used:
        resume = {}
    # A fresh full copy has nothing to delete, so it needs no tombstones (a continued one gets those after its start).
    kinds = [*KINDS, "tombstones"] if since or resume_used else list(KINDS)
    conn = _open(db_path)
    try:
        conn.execute("BEGIN")
        upto = int(meta_get(conn, "last_seq", "0"))
        counts: dict[str, int] = {}
        for kind in kinds:
            start = max(since, resume.get(kind, 0))
            counts[kind] = int(conn.execute(f"SELECT COUNT(*) FROM {kind} WHERE seq > ?",  # noqa: S608  # nosec B608
                                            (start,)).fetchone()[0])
        header = {"format": FORMAT, "store_id": own_store, "since": since, "full": since == 0,
                  "resume_used": resume_used, "upto": upto, "digest": digest_hex(get_digest_sum(conn)),
                  "counts": counts}
        yield message(header)
        for kind, cols in KINDS.items():
            cur = conn.execute(f"SELECT {', '.join(cols)}, seq FROM {kind} WHERE seq > ? ORDER BY seq",  # noqa: S608  # nosec B608
                               (max(since, resume.get(kind, 0)),))
            yield from _pages(cur, kind)
        if "tombstones" in kinds:
            cur = conn.execute("SELECT kind, id, seq FROM tombstones WHERE seq > ? ORDER BY seq",
                               (max(since, resume.get("tombstones", 0)),))
            yield from _pages(cur, "tombstones")
        yield message({"k": "end"})
        conn.execute("COMMIT")
    finally:
        conn.close()


def _pages(cur: sqlite3.Cursor, kind: str) -> Iterator[bytes]:
    while True:
        rows = cur.fetchmany(PAGE_ROWS)
        if not rows:
            return
        # Each row ends with its change number: the backup keeps it to order versions and deletions.
        yield message({"k": kind, "rows": rows, "last": rows[-1][-1]})


def blobs(db_path: Path, items: list[tuple[str, int]]) -> Iterator[bytes]:
    """Frames: 4-byte length, JSON header {"r": id, "i": chunk index, "n": bytes}, then the bytes.

    A recording that no longer exists gets one header with "gone": true (it was deleted meanwhile)."""
    conn = _open(db_path)
    try:
        for rid, start in items:
            idx = start
            found = False
            while True:
                row = conn.execute("SELECT data FROM recording_chunks WHERE recording_id = ? AND idx = ?",
                                   (rid, idx)).fetchone()
                if row is None:
                    break
                found = True
                data: bytes = row[0]
                yield message({"r": rid, "i": idx, "n": len(data)}) + data
                idx += 1
            if not found:
                yield message({"r": rid, "i": start, "n": 0, "gone": True})
    finally:
        conn.close()


def message(doc: dict[str, Any]) -> bytes:
    raw = orjson.dumps(doc)
    return FRAME_HEADER.pack(len(raw)) + raw
