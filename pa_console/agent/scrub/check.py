"""Re-read every row and every recording from the bytes on disk and check them against their recorded hashes.

What is recorded at write time, and so what a scrub can prove:
- each site row carries `rh`, the SHA-256 of its values (`rows.row_hash`): the row is re-hashed from its columns;
- the digest total in `meta` is the sum of every row's `rh`: the sum is recomputed;
- each recording's row carries the SHA-256 and size of its content: its file (store/blobs.py) is re-hashed.
The site digest (`GET /site/digest`) is made of the recorded hashes; this check is what proves the bytes match them
(SQLite's `integrity_check` does not: it checks pages and indexes, never the content of a blob).

The work is a generator of small steps, each reading at most one batch of rows or one chunk in a short snapshot of
its own (a long read would keep the write-ahead log from being checkpointed): `pa-agent verify` runs it flat out,
the serving agent runs each step in a thread and sleeps between them to cap the read rate."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pa_console.agent.store import blobs
from pa_console.agent.store.rows import KINDS, MOD, digest_hex, row_hash
from pa_console.agent.store.site import get_digest_sum
from pa_console.protocol.constants import CHUNK_SIZE
from pa_console.protocol.verify import VerifyFinding

_ROW_BATCH = 1000  # rows a step (one snapshot): ~10 ms of hashing, so the event loop gets the GIL back often
_RECORDING_PAGE = 500  # recordings listed a step
# Findings kept in memory: a store damaged everywhere must not make the scrub's memory grow with it.
_FINDINGS_KEPT = 10_000


def open_for_verify(path: Path) -> sqlite3.Connection:
    """A read-only connection. Text that is no longer valid UTF-8 (a flipped bit) is decoded with replacement
    characters, so the row reads, hashes differently, and is reported instead of stopping the scrub."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, isolation_level=None,
                           check_same_thread=False)
    conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
    conn.execute("PRAGMA query_only=ON")
    return conn


@dataclass
class Counts:
    rows_done: int = 0
    rows_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    recordings_done: int = 0


@dataclass
class StoreCheck:
    """One scrub of one store. Drive `steps()` to the end; each yielded value is the bytes read by that step."""

    conn: sqlite3.Connection
    counts: Counts = field(default_factory=Counts)
    findings: list[VerifyFinding] = field(default_factory=list)
    damaged_count: int = 0
    phase: str = "count"
    whole_file: bool = True  # SQLite's structure check over the whole file at once (see _structure)
    blob_store: blobs.BlobStore | None = None  # the recordings' files; found from the connection's file if None

    def _found(self, kind: str, item_id: str | None, problem: str) -> None:
        self.damaged_count += 1
        if len(self.findings) < _FINDINGS_KEPT:
            self.findings.append(VerifyFinding(kind=kind, id=item_id, problem=problem))

    def _snapshot(self) -> Any:
        return _Snapshot(self.conn)

    def steps(self) -> Generator[int, None, None]:
        """The first step only counts (so that progress has its totals); each later one reads a batch."""
        phases: list[tuple[str, Callable[[], Iterator[int]]]] = [
            ("count", self._count), ("structure", self._structure),
            *[("rows", partial(self._rows, kind)) for kind in KINDS],
            ("digest", self._digest_total), ("recordings", self._recordings)]
        for phase, run in phases:
            self.phase = phase
            try:
                yield from run()
            except sqlite3.OperationalError:
                raise  # busy, locked, out of memory: the scrub failed, nothing was found damaged
            except sqlite3.DatabaseError as exc:
                # Pages SQLite cannot read ("database disk image is malformed"): damage, and the next part may
                # still be readable.
                if run == self._count:  # not even the table sizes: nothing further can be read
                    self._found("store", None, f"SQLite cannot read the store ({exc})")
                    return
                self._found("store", None, f"SQLite cannot read the {phase} ({exc})")

    def _count(self) -> Iterator[int]:
        with self._snapshot():
            for kind in KINDS:
                self.counts.rows_total += int(self.conn.execute(f"SELECT COUNT(*) FROM {kind}").fetchone()[0])  # noqa: S608  # nosec B608
            self.counts.bytes_total = int(self.conn.execute("SELECT SUM(size) FROM recordings").fetchone()[0] or 0)
        yield 0

    def _structure(self) -> Iterator[int]:
        """SQLite's own check of pages and indexes (in C); it cannot see a changed byte inside a value.

        Whole, it reads every page of the file at disk speed in one statement, which no throttle can slow: so a
        throttled scrub checks one table a step. (Schema 4 kept recordings in `recording_chunks`; they are files
        now, re-hashed in the recordings phase.)"""
        if self.whole_file:
            tables = [""]
        else:
            tables = [name for (name,) in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'recording_chunks' "
                "AND name NOT LIKE 'stage!_%' ESCAPE '!'")]  # a sync's staging is checked by the sync's digest
        for table in tables:
            arg = "'" + table.replace("'", "''") + "'" if table else "20"
            problems = [str(r[0]) for r in self.conn.execute(f"PRAGMA quick_check({arg})").fetchmany(20)]
            if problems != ["ok"]:
                for problem in problems:
                    self._found("store", None, f"SQLite reports: {problem[:300]}")
            yield 0

    def _rows(self, kind: str) -> Iterator[int]:
        cols = KINDS[kind]
        sql = f"SELECT rowid, {', '.join(cols)}, rh FROM {kind} WHERE rowid > ? ORDER BY rowid LIMIT ?"  # noqa: S608  # nosec B608
        after = -(1 << 63)
        while True:
            nbytes = 0
            with self._snapshot():
                rows = self.conn.execute(sql, (after, _ROW_BATCH)).fetchall()
            if not rows:
                return
            for row in rows:
                values, rh = row[1:-1], row[-1]
                expected = row_hash(kind, values)
                if rh != expected:
                    self._found(kind, str(values[0])[:200],
                                "the row's content does not match its recorded hash" if isinstance(rh, bytes)
                                and len(rh) == 32 else "the row's recorded hash is unreadable")
                nbytes += sum(len(v) for v in values if isinstance(v, str)) + 32
            after = rows[-1][0]
            self.counts.rows_done += len(rows)
            yield nbytes

    def _digest_total(self) -> Iterator[int]:
        """The stored total must be the sum of the rows' hashes (read in one snapshot: the two change together)."""
        total = 0
        with self._snapshot():
            for kind in KINDS:
                for (rh,) in self.conn.execute(f"SELECT rh FROM {kind}"):  # noqa: S608  # nosec B608
                    if isinstance(rh, bytes):
                        total += int.from_bytes(rh, "big")
            stored = get_digest_sum(self.conn)
        if total % MOD != stored:
            self._found("digest", None, f"the stored digest total ({digest_hex(stored)[:16]}…) is not the sum of "
                                        f"the rows' hashes ({digest_hex(total % MOD)[:16]}…)")
        yield 0

    def _recordings(self) -> Iterator[int]:
        after = -(1 << 63)
        while True:
            with self._snapshot():
                page = self.conn.execute(
                    "SELECT rowid, id, size, sha256, chunk_size, seq FROM recordings WHERE rowid > ? "
                    "ORDER BY rowid LIMIT ?", (after, _RECORDING_PAGE)).fetchall()
            if not page:
                return
            after = page[-1][0]
            for _, rid, size, sha, chunk_size, seq in page:
                yield from self._recording(str(rid), size, sha, chunk_size, seq)

    def _recording(self, rid: str, size: Any, sha: Any, chunk_size: Any, seq: Any) -> Iterator[int]:
        """Stream one recording's file in chunks (one chunk a step, never the whole recording in memory)."""
        digest = hashlib.sha256()
        read = 0
        problem: str | None = None
        fh = None
        if blobs.valid_sha(sha):
            try:
                fh = open(self._blobs().path(sha), "rb", buffering=0)
            except FileNotFoundError:
                problem = "its content is missing"
            except OSError as exc:
                problem = f"its file cannot be read ({exc.strerror})"
        if fh is not None:
            try:
                while True:
                    try:
                        piece = fh.read(CHUNK_SIZE)
                    except OSError as exc:
                        problem = f"its file cannot be read at byte {read} ({exc.strerror})"
                        break
                    if not piece:
                        break
                    digest.update(piece)
                    read += len(piece)
                    self.counts.bytes_done += len(piece)
                    yield len(piece)
            finally:
                fh.close()
            if problem is None and isinstance(size, int) and isinstance(sha, str):
                if read != size:
                    problem = f"{read} bytes stored, {size} recorded"
                elif digest.hexdigest() != sha:
                    problem = "its SHA-256 differs from the one recorded when it was written"
        self.counts.recordings_done += 1
        if problem is not None and self._still_there(rid, seq):
            self._found("recording_content", rid[:200], problem)

    def _blobs(self) -> blobs.BlobStore:
        if self.blob_store is None:
            self.blob_store = blobs.for_conn(self.conn)
        return self.blob_store

    def _still_there(self, rid: str, seq: Any) -> bool:
        """A recording deleted or rewritten while it was read is not damaged: it changed under the scrub."""
        with self._snapshot():
            row = self.conn.execute("SELECT seq FROM recordings WHERE id = ?", (rid,)).fetchone()
        return row is not None and row[0] == seq


class _Snapshot:
    """A read transaction (one consistent view) around a step; ended before the step yields."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN")

    def __exit__(self, *exc: object) -> None:
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")
