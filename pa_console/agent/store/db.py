"""Connections to the store (one per thread, WAL) and migrations."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pa_console.agent.store import blobs
from pa_console.agent.store.migrations import MIGRATIONS, RECORDING_FILES_SCHEMA, MigrationError

# Large pages suit a store that is mostly recording blobs (fewer overflow pages per 1 MiB chunk); they only take
# effect when the file is created. A larger auto-checkpoint means fewer checkpoints (each one syncs) during bulk sync.
PAGE_SIZE = 32768
WAL_AUTOCHECKPOINT_PAGES = 2048  # 64 MiB at 32 KiB pages


def open_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def _private(path: Path) -> None:
    """The store holds the SMTP password and the peer token: create it 0600 (SQLite gives its -wal and -shm files
    the same mode) and take away what others may read of one made before."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    elif path.stat().st_mode & 0o077:
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if p.exists():
                os.chmod(p, 0o600)


class StoreError(Exception):
    """The store cannot be used as it is, phrased for the administrator."""


def store_problem(path: Path, exc: sqlite3.Error) -> str:
    """One sentence for a store SQLite cannot open or read: a folder it may not write is not a damaged store."""
    text = str(exc).lower()
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return (f"The store {path} is locked by another process ({exc}); stop the other pa-agent command that uses "
                "this DATA_DIR, then try again.")
    if isinstance(exc, sqlite3.OperationalError) and ("unable to open" in text or "readonly" in text
                                                      or "read-only" in text):
        return (f"The store {path} cannot be opened for writing ({exc}); make DATA_DIR and its files writable by "
                "the user that runs pa-agent (a read-only disk, or files of another user), then try again.")
    return (f"The store {path} is damaged ({exc}); restore it from a backup copy, or on a backup appliance move it "
            "aside (the next sync after re-establishing fetches the data again), then start pa-agent again.")


class Database:
    """Opens one connection per thread; SQLite serialises writers, WAL lets readers go on meanwhile."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        _private(path)
        self.blobs = blobs.for_path(path)
        try:
            self.migrate()
        except sqlite3.DatabaseError as exc:  # a damaged file, a read-only folder: a sentence, not a traceback
            self.close()
            raise StoreError(store_problem(path, exc)) from exc

    def connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_connection(self.path)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed whole or rolled back whole (BEGIN IMMEDIATE takes the lock up front)."""
        conn = self.connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot for everything read inside it."""
        conn = self.connect()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def schema_version(self) -> int:
        row = self.connect().execute("PRAGMA user_version").fetchone()
        return int(row[0])

    def migrate(self) -> None:
        with self.write() as conn:
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if current > len(MIGRATIONS):
                raise StoreError(f"{self.path} was written by a newer pa-agent (schema {current}); "
                                   "upgrade this agent before serving this folder.")
            for version, step in enumerate(MIGRATIONS[current:], start=current + 1):
                if callable(step):
                    try:
                        step(conn)
                    except MigrationError as exc:
                        raise StoreError(str(exc)) from exc
                else:
                    for statement in step.split(";\n"):
                        if statement.strip():
                            conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version}")
        if current and current < RECORDING_FILES_SCHEMA <= len(MIGRATIONS):
            # The recordings' pages are free now: give them back to the disk (copies only what is left).
            self.connect().execute("VACUUM")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
