"""Disk space for the store: name a full disk in a sentence (free space, about what is needed), check before a
first copy that it can fit."""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

from pa_console.agent.store import blobs
from pa_console.agent.sync.staging import clear_staging, rollback

# A full copy needs the data itself (the database and the recording files) plus room for the WAL and the index
# builds; a margin over the primary's store size (measured with recordings still in SQLite: a 1 GiB store grew the
# backup's folder by ~1.05 GiB during the apply; recording files are written once, so the margin is generous now).
FULL_COPY_MARGIN = 1.15
FULL_COPY_SLACK_BYTES = 16 * 1024 * 1024


def human(nbytes: float) -> str:
    size = float(nbytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


def free_bytes(folder: Path) -> int:
    return int(shutil.disk_usage(folder).free)


LOW_SPACE_BYTES = 8 * 1024 * 1024


def is_disk_full(exc: BaseException, folder: Path | None = None) -> bool:
    """SQLITE_FULL or ENOSPC; also an I/O error while the folder has almost no space left (SQLite reports a WAL
    write that hit the end of the disk as SQLITE_IOERR_WRITE, not SQLITE_FULL). Looks along the exception's chain:
    a full disk may surface as the error of what was done about it."""
    seen = 0
    cause: BaseException | None = exc
    while cause is not None and seen < 5:
        if _is_full(cause, folder):
            return True
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return False


def _is_full(exc: BaseException, folder: Path | None) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        text = str(exc).lower()
        name = str(getattr(exc, "sqlite_errorname", ""))
        if "disk is full" in text or name == "SQLITE_FULL":
            return True
        if folder is not None and (name.startswith("SQLITE_IOERR") or "disk i/o error" in text):
            try:
                return free_bytes(folder) < LOW_SPACE_BYTES
            except OSError:
                return False
    return False


def full_disk_sentence(folder: Path, needed: int | None, free: int | None = None) -> str:
    need = f"; this sync needs about {human(needed)} more, and {human(FLOOR_BYTES)} are always kept free" \
        if needed else ""
    free = free_bytes(folder) if free is None else free
    return (f"The disk of the data folder {folder} has too little space left ({human(free)} free{need}). Free "
            "space there or give the data folder a larger disk.")


def describe_storage_error(exc: BaseException, folder: Path, needed: int | None = None) -> str:
    if is_disk_full(exc, folder):
        return full_disk_sentence(folder, needed)
    return f"{type(exc).__name__}: {exc}"


def full_copy_needs(store_bytes: int) -> int:
    return int(store_bytes * FULL_COPY_MARGIN) + FULL_COPY_SLACK_BYTES


# A sync stops before the disk is full: it always leaves this much, plus the size of the store's WAL (a checkpoint
# copies the WAL into the store file, and with no room for that even deleting what was staged fails: measured on a
# full tmpfs, "database or disk is full" at the first checkpoint).
FLOOR_BYTES = 16 * 1024 * 1024


def check_room(folder: Path, db_path: Path, upcoming: int) -> None:
    """Raise ENOSPC (named by `describe_storage_error`) if writing `upcoming` bytes would eat into the floor."""
    wal = db_path.with_name(db_path.name + "-wal")
    try:
        wal_bytes = wal.stat().st_size
    except OSError:
        wal_bytes = 0
    if free_bytes(folder) - upcoming < FLOOR_BYTES + wal_bytes:
        raise OSError(errno.ENOSPC, "the data folder is (nearly) full", str(folder))


def free_partial(conn: sqlite3.Connection) -> None:
    """After a sync failed for want of space: drop the partial files of recordings not yet complete and what is
    staged, and give the WAL's space back to the disk (the next sync starts that part again). Complete files of the
    staged recordings go with the staging (the collector finds them unreferenced); the backup's own copy stays."""
    store = blobs.for_conn(conn)
    store.drop_partials()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("BEGIN IMMEDIATE")
    try:
        clear_staging(conn)
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.collect(conn, grace_s=0)
