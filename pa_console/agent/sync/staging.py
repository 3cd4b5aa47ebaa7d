"""The backup's side of a pull, in the store: stage what arrives, then apply it in one transaction.

Rows are staged as they arrive into unindexed copies of the site tables (`stage_<kind>`, with the primary's change
number and the row's hash), in the same file as the site data; recording content goes into files (store/blobs.py,
sync/recording_files.py), in place before the rows that reference them are committed. So an interrupted sync
leaves the previous complete copy untouched, and the next sync continues from what is staged instead of moving it
again. A full copy is applied by swapping the staged tables in
(their indexes built once, by sorting); an incremental one is merged."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from itertools import chain
from typing import Any

import orjson

from pa_console.agent.store import blobs
from pa_console.agent.store.local import set_in
from pa_console.agent.store.rows import KINDS, MOD, digest_hex, hash_staged
from pa_console.agent.store.site import get_digest_sum, meta_get, meta_set, set_digest_sum
from pa_console.agent.sync import page_image

STAGING_KEY = "sync_staging"
STATE_KEY = "sync_state"
# Rows travel as [values..., seq]; after hash_staged they are [seq, values..., rh]. They are inserted _BULK_ROWS
# to a statement: the sqlite3 module binds, steps and resets (and hands over the GIL) once per statement, so a
# million one-row steps cost more than ten thousand hundred-row ones (1M rows: rows phase 10.3-10.9 -> 8.7-9.4 s).
_BULK_ROWS = 100


def _stage_insert(kind: str, rows: int) -> str:
    cols = KINDS[kind]
    one = f"({', '.join('?' for _ in range(len(cols) + 2))})"
    return f"INSERT INTO stage_{kind} (seq, {', '.join(cols)}, rh) VALUES {', '.join([one] * rows)}"  # noqa: S608  # nosec B608


_STAGE_INSERT = {kind: (_stage_insert(kind, 1), _stage_insert(kind, _BULK_ROWS)) for kind in KINDS}


def _insert_staged(conn: sqlite3.Connection, kind: str, rows: list[list[Any]]) -> None:
    one, bulk = _STAGE_INSERT[kind]
    whole = len(rows) - len(rows) % _BULK_ROWS
    if whole:
        conn.executemany(bulk, [list(chain.from_iterable(rows[i:i + _BULK_ROWS])) for i in range(0, whole, _BULK_ROWS)])
    if whole < len(rows):
        conn.executemany(one, rows[whole:])


def rollback(conn: sqlite3.Connection) -> None:
    """A failed COMMIT (a full disk: SQLITE_FULL) has rolled back already; a second ROLLBACK would hide why."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class IntegrityError(Exception):
    pass


class RoleChanged(Exception):
    """The appliance is no longer the backup at the epoch the sync started at: nothing pulled may be applied."""


def check_still_backup(conn: sqlite3.Connection, expected_epoch: int) -> None:
    """Inside the apply's transaction, so a takeover (its own transaction) and the apply are strictly ordered."""
    role, epoch, fence = _local(conn, "role"), int(_local(conn, "epoch") or 0), _local(conn, "fence")
    if role != "backup" or epoch != expected_epoch or fence is not None:
        what = "fenced" if fence is not None else f"{role} at epoch {epoch}"
        raise RoleChanged(f"This appliance became {what} while the sync ran (it started as backup at epoch "
                          f"{expected_epoch}); nothing of what was pulled was applied.")


def _local(conn: sqlite3.Connection, key: str) -> Any:
    row = conn.execute("SELECT value FROM local WHERE key = ?", (key,)).fetchone()
    return orjson.loads(row[0]) if row else None


def clear_staging(conn: sqlite3.Connection) -> None:
    for kind in KINDS:
        conn.execute(f"DROP INDEX IF EXISTS stage_{kind}_key")
        conn.execute(f"DELETE FROM stage_{kind}")  # noqa: S608  # nosec B608 - names from KINDS
    conn.execute("DELETE FROM stage_tombstones")
    conn.execute("DELETE FROM local WHERE key = ?", (STAGING_KEY,))


def wipe_site_data(conn: sqlite3.Connection) -> None:
    """Break on a backup: remove the synchronised copy (inside the caller's transaction)."""
    for kind in KINDS:
        conn.execute(f"DELETE FROM {kind}")  # noqa: S608  # nosec B608
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
            staging = {"store_id": header["store_id"], "base": header["since"], "resume": {}, "attempts": 0,
                       "rows": 0, "sum": "0"}
            if header["since"] == 0:
                # A fresh full copy has nothing to delete: only deletions after this snapshot matter if a later
                # attempt continues it (the primary sends no tombstones in a fresh full stream).
                staging["resume"]["tombstones"] = header["upto"]
        staging["attempts"] += 1
        staging["upto"] = header["upto"]
        set_in(conn, STAGING_KEY, staging)
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


def stage_page(conn: sqlite3.Connection, kind: str, rows: list[list[Any]], last: int) -> None:
    """One page, one transaction, with its resume point: a crash loses at most the page in flight.

    Row hashes are computed here, while the primary is still producing pages, not in the final apply."""
    added = 0 if kind == "tombstones" else hash_staged(kind, rows)
    _stage(conn, kind, rows, added, last)


def stage_image(conn: sqlite3.Connection, kind: str, data: bytes, last: int) -> None:
    """A page of rows as a database image (page_image), staged like `stage_page` but copied in SQLite.

    The proof stays the backup's own: after the copy, each staged row's hash is taken over canonical bytes that
    SQLite makes from the values as stored (`json_array(kind, columns...)`). Those are the bytes of
    `rows.row_hash` when SQLite writes them as orjson does, which holds for text, integers and NULL; the primary's
    hash of each row only serves to confirm it (equal SHA-256, equal bytes). A page where that is not confirmed
    for every row is staged the old way instead (hashed with orjson, row by row in Python). So the digest still
    sums hashes the backup computed from what it stores, and the scrub re-hashes stored rows to the same values.

    The copy is `INSERT INTO stage SELECT * FROM page`: a page declared like the staging table (what the primary
    sends) is copied record by record, so the values' checks are made where they are read anyway, by the read-back
    (a NULL where the table has NOT NULL, or a blob, fails it, and the page is refused). The change number is the
    table's rowid (schema 6), so it is an integer whatever the image holds; a page whose change numbers are not all
    above what is staged already is refused (a number staged twice fails the copy, a lower one is missing from the
    read-back)."""
    cols = ", ".join(KINDS[kind])
    page = f"{page_image.SCHEMA}.{page_image.TABLE}"
    rows: list[list[Any]]
    try:
        page_image.open_image(conn, kind, data)
        conn.execute("BEGIN IMMEDIATE")
        try:
            start = conn.execute(f"SELECT coalesce(max(rowid), 0) FROM stage_{kind}").fetchone()[0]  # noqa: S608  # nosec B608
            copied = conn.execute(f"INSERT INTO stage_{kind} SELECT * FROM {page}").rowcount  # noqa: S608  # nosec B608
            lines = _read_back(conn, kind, start)
            if len(lines) != copied:
                raise page_image.not_a_page(kind)
            sha256 = hashlib.sha256
            hashes = [sha256(line).digest() for line, _ in lines]
            if hashes == [rh for _, rh in lines]:
                _record_page(conn, kind, len(lines), _sum_hashes(hashes), last)
                conn.execute("COMMIT")
                return
            # Not confirmed: the values as stored are hashed the orjson way and staged again.
            rows = [list(row) for row in conn.execute(f"SELECT {cols}, seq FROM stage_{kind} "  # noqa: S608  # nosec B608
                                                      "WHERE rowid > ? ORDER BY rowid", (start,))]
            conn.execute("ROLLBACK")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        added = hash_staged(kind, rows)
    except page_image.ImageError as exc:
        raise _refused(exc) from exc
    except sqlite3.OperationalError:
        raise  # locked, busy, disk full: no fault of the page; what was staged before stays
    except sqlite3.DatabaseError as exc:
        # Content of the image SQLite found malformed, or a constraint it breaks. Nothing of the page is staged.
        page_image.forget(conn)
        raise _refused(exc) from exc
    _stage(conn, kind, rows, added, last)


def _refused(exc: Exception) -> IntegrityError:
    return IntegrityError(f"the primary sent a page that cannot be staged ({exc}); nothing of it was staged and "
                          "the next sync will fetch everything again")


def _read_back(conn: sqlite3.Connection, kind: str, start: int) -> list[tuple[bytes, bytes]]:
    """Each row staged after `start` (change numbers are the rowids: schema 6), its canonical bytes as SQLite
    writes them from the stored values, and the primary's hash. A blob, or a NULL in a column declared NOT NULL,
    fails the statement: `json_array` cannot hold a blob, and such a column
    is read as `coalesce(column, json(''))`, which only evaluates the malformed `json('')` for a NULL. (That costs
    next to nothing; `typeof()` tests of each column cost ~0.25 us a row, and `column IS NOT NULL` is dropped by
    SQLite for a column declared NOT NULL.)"""
    not_null = set(_not_null(conn, kind))
    values = ", ".join(f"coalesce({name}, json(''))" if name in not_null else name for name in KINDS[kind])
    try:
        lines: list[tuple[bytes, bytes]] = conn.execute(
            f"SELECT CAST(json_array(?, {values}) AS BLOB), rh FROM stage_{kind} "  # noqa: S608  # nosec B608
            "WHERE rowid > ? ORDER BY rowid", (kind, start)).fetchall()
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode == sqlite3.SQLITE_ERROR:  # a blob, or a NULL where the table has NOT NULL
            raise page_image.not_a_page(kind) from exc
        raise
    return lines


def _not_null(conn: sqlite3.Connection, kind: str) -> list[str]:
    return [name for _, name, _, notnull, _, _ in conn.execute(f"PRAGMA main.table_info(stage_{kind})") if notnull]


def _sum_hashes(hashes: list[bytes]) -> int:
    from_bytes = int.from_bytes
    return sum([from_bytes(rh, "big") for rh in hashes])


def _record_page(conn: sqlite3.Connection, kind: str, rows: int, added: int, last: int) -> None:
    staging = _local(conn, STAGING_KEY)
    if kind != "tombstones":
        staging["rows"] += rows
        staging["sum"] = str((int(staging["sum"]) + added) % MOD)
    staging["resume"][kind] = last
    set_in(conn, STAGING_KEY, staging)


def _stage(conn: sqlite3.Connection, kind: str, rows: list[list[Any]], added: int, last: int) -> None:
    """One page, one transaction, with its resume point: a crash loses at most the page in flight."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if kind == "tombstones":
            conn.executemany("INSERT INTO stage_tombstones (kind, id, seq) VALUES (?, ?, ?)", rows)
        else:
            _insert_staged(conn, kind, rows)
        _record_page(conn, kind, len(rows), added, last)
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


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
    """Recordings the staged rows will make visible whose file is not here yet, one per content (files are named
    by SHA-256), each with the whole chunks its partial file holds (a download resumes from there). A partial that
    holds every byte is checked by its hash and put in place here (or dropped if damaged)."""
    store = blobs.for_conn(conn)
    deleted = dict(conn.execute("SELECT id, max(seq) FROM stage_tombstones WHERE kind = 'recordings' GROUP BY id"))
    needed: dict[str, NeededRecording] = {}
    # With several attempts staged, a recording's latest version wins (bare columns come from the max(seq) row).
    staged = conn.execute("SELECT id, size, sha256, chunk_size, max(seq) FROM stage_recordings GROUP BY id").fetchall()
    for rid, size, sha256, chunk_size, seq in staged:
        if deleted.get(rid, -1) > seq or sha256 in needed or not blobs.valid_sha(sha256) or store.has(sha256):
            continue  # deleted again, the same content as another, a row no file can prove, or here already
        if not isinstance(size, int) or not isinstance(chunk_size, int) or chunk_size <= 0 or size < 0:
            continue
        rec = NeededRecording(rid, size, sha256, chunk_size, 0)
        try:
            held = store.partial_path(sha256).stat().st_size
        except OSError:
            held = 0
        if held >= size:
            if store.adopt_partial(sha256, size):
                continue  # every byte had arrived before the sync stopped: checked by its hash, now in place
            held = 0 if not store.partial_path(sha256).exists() else held  # damaged: dropped, fetched whole
        rec.have_chunks = min(held // chunk_size, rec.chunks - 1)
        needed[sha256] = rec
    return list(needed.values())


def files_the_apply_may_release(conn: sqlite3.Connection) -> list[str] | None:
    """The SHA-256s of the recordings an incremental apply replaces or deletes (their files may become unused), or
    None for a full copy (which may release any). Read before the apply, so that collecting after it costs what
    the change costs, not what the site holds."""
    staging = _local(conn, STAGING_KEY)
    if staging is None or int(staging["base"]) == 0:
        return None
    return [str(sha) for (sha,) in conn.execute(
        "SELECT sha256 FROM recordings WHERE id IN (SELECT id FROM stage_recordings UNION "
        "SELECT id FROM stage_tombstones WHERE kind = 'recordings')")]


def _sum(conn: sqlite3.Connection, sql: str, *args: Any) -> int:
    return sum(int.from_bytes(rh, "big") for (rh,) in conn.execute(sql, args))


def _staged(conn: sqlite3.Connection, staging: dict[str, Any], several: bool) -> tuple[int, int]:
    """The staged rows' hash sum and number. With one snapshot staged, those kept while staging; with several,
    counted from the staged tables once they are settled."""
    if not several:
        return int(staging["sum"]), int(staging["rows"])
    total = sum(_sum(conn, f"SELECT rh FROM stage_{kind}") for kind in KINDS)  # noqa: S608  # nosec B608
    rows = sum(int(conn.execute(f"SELECT COUNT(*) FROM stage_{kind}").fetchone()[0]) for kind in KINDS)  # noqa: S608  # nosec B608
    return total, rows


def _index_stage(conn: sqlite3.Connection, kind: str) -> None:
    """An index on a staged table's key, for the apply only (staging appends without one)."""
    conn.execute(f"CREATE INDEX IF NOT EXISTS stage_{kind}_key ON stage_{kind}({KINDS[kind][0]})")


def _settle(conn: sqlite3.Connection, kind: str) -> None:
    """With several attempts staged, a key may be staged more than once and deleted in between: keep only its
    latest version, and drop versions older than a staged deletion. The primary's change numbers order them."""
    key, stage = KINDS[kind][0], f"stage_{kind}"
    _index_stage(conn, kind)
    conn.execute(f"DELETE FROM {stage} WHERE EXISTS (SELECT 1 FROM {stage} AS later "  # noqa: S608  # nosec B608
                 f"WHERE later.{key} = {stage}.{key} AND later.seq > {stage}.seq)")
    conn.execute(f"DELETE FROM {stage} WHERE EXISTS (SELECT 1 FROM stage_tombstones AS t "  # noqa: S608  # nosec B608
                 f"WHERE t.kind = ? AND t.id = {stage}.{key} AND t.seq > {stage}.seq)", (kind,))


def _swap_in(conn: sqlite3.Connection, kind: str) -> None:
    """A full copy: the staged table becomes the site table, its indexes built once; a new empty one stages."""
    stage = f"stage_{kind}"
    conn.execute(f"DROP INDEX IF EXISTS stage_{kind}_key")
    stage_sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (stage,)).fetchone()[0]
    index_sql = [sql for (sql,) in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND "
                                                "tbl_name = ? AND sql IS NOT NULL", (kind,))]
    conn.execute(f"DROP TABLE {kind}")
    conn.execute(f"ALTER TABLE {stage} RENAME TO {kind}")
    try:
        for sql in index_sql:
            conn.execute(sql)
    except sqlite3.IntegrityError as exc:
        raise IntegrityError(f"the primary sent {kind} with the same key twice; nothing was applied and the next "
                             "sync will fetch everything again") from exc
    conn.execute(stage_sql)


def _merge_in(conn: sqlite3.Connection, kind: str, offset: int) -> tuple[int, int]:
    """An incremental copy: staged deletions, then staged rows, into the site table. Returns the hashes it removed
    from the digest (deleted and replaced rows; the staged rows' hashes are added by the caller) and the rows applied.

    Local change numbers are the primary's shifted past this appliance's own (offset), so they stay unique and
    ordered like the primary's changes."""
    cols = KINDS[kind]
    key, stage = cols[0], f"stage_{kind}"
    removed, applied = 0, 0
    _index_stage(conn, kind)
    deletions = conn.execute("SELECT id, max(seq) FROM stage_tombstones WHERE kind = ? GROUP BY id", (kind,)).fetchall()
    for item_id, seq in deletions:
        if conn.execute(f"SELECT 1 FROM {stage} WHERE {key} = ? AND seq > ?", (item_id, seq)).fetchone():  # noqa: S608  # nosec B608
            continue  # created again after its deletion: the staged row wins
        old = conn.execute(f"SELECT rh FROM {kind} WHERE {key} = ?", (item_id,)).fetchone()  # noqa: S608  # nosec B608
        if old is not None:
            removed += int.from_bytes(old[0], "big")
            conn.execute(f"DELETE FROM {kind} WHERE {key} = ?", (item_id,))  # noqa: S608  # nosec B608
            conn.execute("INSERT OR REPLACE INTO tombstones(kind, id, seq) VALUES (?, ?, ?)",
                         (kind, item_id, seq + offset))
            applied += 1
    removed += _sum(conn, f"SELECT live.rh FROM {stage} AS s JOIN {kind} AS live ON live.{key} = s.{key}")  # noqa: S608  # nosec B608
    names = ", ".join(cols)
    cur = conn.execute(f"INSERT OR REPLACE INTO {kind} ({names}, seq, rh) "  # noqa: S608  # nosec B608
                       f"SELECT {names}, seq + ?, rh FROM {stage} ORDER BY {key}", (offset,))
    applied += cur.rowcount
    conn.execute(f"DELETE FROM tombstones WHERE kind = ? AND id IN (SELECT {key} FROM {stage})", (kind,))  # noqa: S608  # nosec B608
    return removed, applied


def apply(conn: sqlite3.Connection, expected_digest: str, report: dict[str, Any],
          expected_epoch: int | None = None) -> int:
    """Apply what is staged in ONE transaction, check the digest inside it, and commit only if it matches.

    With `expected_epoch`, only while this appliance is still the backup at that epoch (checked inside)."""
    staging = _local(conn, STAGING_KEY)
    if staging is None:
        raise IntegrityError("nothing is staged")
    conn.execute("BEGIN IMMEDIATE")
    try:
        if expected_epoch is not None:
            check_still_backup(conn, expected_epoch)
        several = staging["attempts"] > 1
        if several:
            for kind in KINDS:
                _settle(conn, kind)
        staged_sum, staged_rows = _staged(conn, staging, several)
        last_seq = int(meta_get(conn, "last_seq", "0"))
        if staging["base"] == 0:
            # A full copy replaces the backup's data: what the primary does not have goes.
            for kind in KINDS:
                _swap_in(conn, kind)
            total, applied = staged_sum, staged_rows
            last_seq = max(last_seq, int(staging["upto"]))
        else:
            total, applied = get_digest_sum(conn) + staged_sum, 0
            offset = last_seq - int(staging["base"])
            for kind in KINDS:
                removed, count = _merge_in(conn, kind, offset)
                total, applied = total - removed, applied + count
            last_seq = offset + int(staging["upto"])
        total %= MOD
        got = digest_hex(total)
        report["backup_digest"] = got
        if got != expected_digest:
            raise IntegrityError("the copy would not match the primary's data (digest mismatch); nothing was "
                                 "applied and the next sync will fetch everything again")
        set_digest_sum(conn, total)
        meta_set(conn, "last_seq", str(last_seq))
        set_in(conn, STATE_KEY, {"store_id": staging["store_id"], "seq": staging["upto"]})
        clear_staging(conn)
        conn.execute("COMMIT")
        return applied
    except BaseException:
        rollback(conn)
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
