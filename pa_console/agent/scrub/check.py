"""Re-read every row and every recording from the bytes on disk and check them against their recorded hashes.

What is recorded at write time, and so what a scrub can prove:
- each site row carries `rh`, the SHA-256 of its values (`rows.row_hash`): the row is re-hashed from its columns;
- the digest total in `meta` is the sum of every row's `rh`: the sum is recomputed;
- each recording's row carries the SHA-256 and size of its content: the chunks are streamed and re-hashed.
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
        throttled scrub checks each table but `recording_chunks` this way (one step each), and that table's pages
        are read (and their chains followed) anyway when every chunk is hashed."""
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
        """Stream one recording's chunks in order (one chunk a step, never the whole recording in memory)."""
        digest = hashlib.sha256()
        read = 0
        idx = 0
        problem: str | None = None
        while problem is None:
            length: int | None = None
            with self._snapshot():
                row = self.conn.execute("SELECT rowid, idx FROM recording_chunks WHERE recording_id = ? AND idx >= ? "
                                        "ORDER BY idx LIMIT 1", (rid, idx)).fetchone()
                if row is not None and row[1] == idx:
                    try:
                        length = _hash_blob(self.conn, row[0], digest)
                    except sqlite3.OperationalError as exc:  # the value is no longer a blob
                        problem = f"chunk {idx} cannot be read ({exc})"
            if row is None:
                break
            if length is None:
                problem = problem or f"chunk {idx} is missing"
                break
            read += length
            self.counts.bytes_done += length
            idx += 1
            yield length
        if problem is None:
            if not isinstance(size, int) or not isinstance(sha, str):
                pass  # a damaged row, reported by the row check: its size and hash mean nothing
            elif read != size:
                problem = f"{read} bytes stored, {size} recorded" if idx else "its content is missing"
            elif digest.hexdigest() != sha:
                problem = "its SHA-256 differs from the one recorded when it was written"
        self.counts.recordings_done += 1
        if problem is not None and self._still_there(rid, seq):
            self._found("recording_content", rid[:200], problem)

    def _still_there(self, rid: str, seq: Any) -> bool:
        """A recording deleted or rewritten while it was read is not damaged: it changed under the scrub."""
        with self._snapshot():
            row = self.conn.execute("SELECT seq FROM recordings WHERE id = ?", (rid,)).fetchone()
        return row is not None and row[0] == seq


def _hash_blob(conn: sqlite3.Connection, rowid: int, digest: Any) -> int:
    """Feed one chunk to the hash in pieces of at most CHUNK_SIZE (a chunk whose length was damaged could claim
    anything); incremental blob I/O copies the content once, straight into the piece."""
    length = 0
    with conn.blobopen("recording_chunks", "data", rowid, readonly=True) as blob:
        while piece := blob.read(CHUNK_SIZE):
            digest.update(piece)
            length += len(piece)
    return length


class _Snapshot:
    """A read transaction (one consistent view) around a step; ended before the step yields."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN")

    def __exit__(self, *exc: object) -> None:
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")
