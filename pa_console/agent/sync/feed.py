"""The primary's side of a pull: a consistent stream of what changed since a point, and recording content.

Rows travel as pages: many rows as a small database image (page_image: copied in C on both sides), a few as
JSON arrays (orjson); each stream reads one SQLite snapshot on a connection of its own, so that what the backup gets
is a state the primary really had."""

from __future__ import annotations

import os
import sqlite3
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from pa_console.agent.store import blobs
from pa_console.agent.store.rows import KINDS, digest_hex
from pa_console.agent.store.site import get_digest_sum, meta_get, meta_set
from pa_console.agent.sync import page_image

PAGE_ROWS = 5000
# Version of the change stream: 2 sends each row's change number (the backup stages rows, not pages) and no
# tombstones in a fresh full stream; 3 sends pages of many rows as database images (page_image); 4 declares the
# image's table like the backup's staging table (copied record by record; a backup refuses other images); 5 declares
# the change number as the page table's INTEGER PRIMARY KEY (schema 6: it is each site table's rowid).
# Both sides check it, so mixed versions fail with a sentence, not a mess.
FORMAT = 5
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


def _store_bytes(conn: sqlite3.Connection) -> int:
    """About what a full copy of this store takes on disk (the database's used pages and the recordings' files, one
    per content), for the backup's space check."""
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0]) - int(conn.execute("PRAGMA freelist_count")
                                                                      .fetchone()[0])
    # total(): a float, so that sizes from a damaged row cannot overflow; the file sizes are what the rows say.
    files = int(min(conn.execute("SELECT total(size) FROM (SELECT DISTINCT sha256, size FROM recordings "
                                 "WHERE typeof(size) = 'integer' AND size > 0)").fetchone()[0], 2.0**62))
    return pages * int(conn.execute("PRAGMA page_size").fetchone()[0]) + files


def changes(db_path: Path, own_store: str, since: int, store: str, resume: dict[str, int],
            resume_store: str, resume_base: int) -> Iterator[bytes]:
    """Messages (each a 4-byte length and JSON): a header, then pages {"k": kind, "rows": [...], "last": seq}
    and {"k": "tombstones", ...}, then {"k": "end"}. Length-prefixed because a page of rows is no "line".

    A kind with many rows to send comes in pages {"k": kind, "n": rows, "last": seq, "image": bytes}, each followed
    by one frame (4-byte length, then the bytes) holding the page as a database image (page_image)."""
    if store != own_store:
        since = 0  # the backup holds another store's numbers (or none): everything, from the start
    resume_used = resume_store == own_store and resume_base == since and bool(resume)
    if not resume_used:
        resume = {}
    # A fresh full copy has nothing to delete, so it needs no tombstones (a continued one gets those after its start).
    kinds = [*KINDS, "tombstones"] if since or resume_used else list(KINDS)
    conn = sqlite3.connect(db_path, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        page_image.attach(conn)
        page_image.read_only_but_page(conn)
        conn.execute("BEGIN")
        upto = int(meta_get(conn, "last_seq", "0"))
        counts: dict[str, int] = {}
        for kind in kinds:
            start = max(since, resume.get(kind, 0))
            counts[kind] = int(conn.execute(f"SELECT COUNT(*) FROM {kind} WHERE seq > ?",  # noqa: S608  # nosec B608
                                            (start,)).fetchone()[0])
        header = {"format": FORMAT, "store_id": own_store, "since": since, "full": since == 0,
                  "resume_used": resume_used, "upto": upto, "digest": digest_hex(get_digest_sum(conn)),
                  "counts": counts, "store_bytes": _store_bytes(conn)}
        yield message(header)
        for kind, cols in KINDS.items():
            after = max(since, resume.get(kind, 0))
            if counts[kind] >= page_image.MIN_ROWS:
                yield from _image_pages(conn, kind, after)
                continue
            cur = conn.execute(f"SELECT {', '.join(cols)}, seq FROM {kind} WHERE seq > ? ORDER BY seq",  # noqa: S608  # nosec B608
                               (after,))
            yield from _pages(cur, kind)
        if "tombstones" in kinds:
            cur = conn.execute("SELECT kind, id, seq FROM tombstones WHERE seq > ? ORDER BY seq",
                               (max(since, resume.get("tombstones", 0)),))
            yield from _pages(cur, "tombstones")
        yield message({"k": "end"})
        conn.execute("COMMIT")
    finally:
        conn.close()


def _image_pages(conn: sqlite3.Connection, kind: str, after: int) -> Iterator[bytes]:
    page_image.start_kind(conn, kind)
    while True:
        rows, last = page_image.fill(conn, kind, after, PAGE_ROWS)
        if not rows:
            return
        data = page_image.image(conn)
        yield message({"k": kind, "n": rows, "last": last, "image": len(data)}) + FRAME_HEADER.pack(len(data)) + data
        after = last


def _pages(cur: sqlite3.Cursor, kind: str) -> Iterator[bytes]:
    while True:
        rows = cur.fetchmany(PAGE_ROWS)
        if not rows:
            return
        # Each row ends with its change number: the backup keeps it to order versions and deletions.
        yield message({"k": kind, "rows": rows, "last": rows[-1][-1]})


class BlobFeed:
    """Recording content as frames: a 4-byte length, a JSON header {"r": id, "i": chunk index, "n": bytes}, then the
    bytes; a recording that no longer exists gets one header with "gone": true (it was deleted meanwhile).

    The content is each recording's file (store/blobs.py), cut into chunks of the row's chunk size. The stream is
    planned up front from the rows and the files' sizes, which gives the response its exact length; files are
    written once and never change, so the plan holds unless a recording is deleted while it is sent (its file is
    opened when its turn comes: a file gone by then raises ChunkChanged). Each chunk is read with one pread
    straight into the bytes that go to the transport (one copy). Memory: one small entry per recording."""

    def __init__(self, db_path: Path, items: list[tuple[str, int]]) -> None:
        self._store = blobs.for_path(db_path)
        # recording id, file, chunk size, first chunk, chunks (0: gone), frame bytes
        self._plan: list[tuple[str, Path | None, int, int, int, int]] = []
        conn = _open(db_path)
        try:
            conn.execute("BEGIN")
            for rid, start in items:
                row = conn.execute("SELECT sha256, chunk_size FROM recordings WHERE id = ?", (rid,)).fetchone()
                size = self._store.size_of(row[0]) if row is not None else None
                chunk_size = row[1] if row is not None and isinstance(row[1], int) and row[1] > 0 else 0
                count, nbytes = 0, 0
                if size is not None and chunk_size:
                    chunks = max(1, -(-size // chunk_size))
                    count = max(0, chunks - start)
                    for idx in range(start, start + count):
                        length = min(chunk_size, size - idx * chunk_size)
                        nbytes += len(_chunk_header(rid, idx, length)) + length
                if not count:
                    nbytes = len(_gone_header(rid, start))
                path = self._store.path(row[0]) if count else None
                self._plan.append((rid, path, chunk_size, start, count, nbytes))
            conn.execute("COMMIT")
        finally:
            conn.close()
        self.length = sum(entry[5] for entry in self._plan)
        self._at = (0, 0, 0)  # plan entry, chunks of it sent, its bytes sent
        self._fd: int | None = None

    def read(self, max_bytes: int) -> list[bytes]:
        """The next frames' pieces (each header, then its content), about max_bytes of them; [] at the end."""
        pieces: list[bytes] = []
        taken = 0
        entry, done, sent = self._at
        while entry < len(self._plan) and (not pieces or taken < max_bytes):
            rid, path, chunk_size, start, count, nbytes = self._plan[entry]
            if not count or path is None:
                pieces.append(_gone_header(rid, start))
                entry, done, sent = entry + 1, 0, 0
                continue
            if self._fd is None:
                try:
                    self._fd = os.open(path, os.O_RDONLY)
                except FileNotFoundError:
                    raise ChunkChanged(f"recording {rid} was deleted while it was being sent") from None
            idx = start + done
            data = os.pread(self._fd, chunk_size, idx * chunk_size)
            head = _chunk_header(rid, idx, len(data))
            pieces += (head, data)
            taken += len(head) + len(data)
            done, sent = done + 1, sent + len(head) + len(data)
            if sent > nbytes or (done == count and sent != nbytes):
                raise ChunkChanged(f"recording {rid} changed while it was being sent")
            if done == count:
                entry, done, sent = entry + 1, 0, 0
                self._close_file()
        self._at = (entry, done, sent)
        return pieces

    def _close_file(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        self._close_file()


def _chunk_header(rid: str, idx: int, size: int) -> bytes:
    return message({"r": rid, "i": idx, "n": size})


def _gone_header(rid: str, idx: int) -> bytes:
    return message({"r": rid, "i": idx, "n": 0, "gone": True})


class ChunkChanged(Exception):
    """A recording was deleted (or rewritten) after its frames were planned: the stream cannot be finished."""


def message(doc: dict[str, Any]) -> bytes:
    raw = orjson.dumps(doc)
    return FRAME_HEADER.pack(len(raw)) + raw
