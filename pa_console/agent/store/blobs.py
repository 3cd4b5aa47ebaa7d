"""Recording content as files beside the database, written once and named by their SHA-256.

Layout, next to `site.db`: `site.db-recordings/by-sha256/<sha256>` holds a recording's bytes; `partial/<sha256>` a
backup's download in progress (whole chunks, resumable); `tmp/` files being written. A file gets its final name
only complete: written to `tmp/` (or `partial/`), fsynced, renamed, and the folder fsynced. A recording's row in
SQLite (`recordings.sha256`) is the reference, so the file and its row change in one transaction of the rows, and
an identical recording written again is the same file (idempotent).

Why not blobs in SQLite: on a backup every byte went through the write-ahead log twice (WAL, then the checkpoint,
both fsynced), ~1.5 s of CPU per GiB and twice the disk writes; a file is written once.

Collection: a file that no row references (`recordings` or a sync's `stage_recordings`) is removed. The window
between a file's rename and the commit of the row that references it is covered three ways: the collector holds
SQLite's write lock while it reads the references and unlinks (a writer checks its file is still there inside its
own write transaction), files younger than a grace age are left alone, and this process's writes in flight are in
a pending set the collector skips."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

SHA_RE = re.compile(r"[0-9a-f]{64}")
GRACE_S = 120.0  # a file renamed into place is committed within seconds; this covers another process's writer


def blob_root(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-recordings")


def valid_sha(sha: object) -> bool:
    return isinstance(sha, str) and SHA_RE.fullmatch(sha) is not None


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    """The files of one store. One instance per folder per process (`for_path`), so the pending set is shared."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.final = root / "by-sha256"
        self.partial = root / "partial"
        self.tmp = root / "tmp"
        self._lock = threading.Lock()
        self._pending: dict[str, int] = {}  # sha -> writers between rename and commit (in this process)
        self._temps: set[str] = set()  # names in tmp/ being written by this process

    def ensure(self) -> None:
        for folder in (self.root, self.final, self.partial, self.tmp):
            folder.mkdir(mode=0o700, exist_ok=True)

    # -- names ------------------------------------------------------------------------------------------------
    def path(self, sha: str) -> Path:
        if not valid_sha(sha):
            raise ValueError("not a SHA-256 in hex")
        return self.final / sha

    def partial_path(self, sha: str) -> Path:
        if not valid_sha(sha):
            raise ValueError("not a SHA-256 in hex")
        return self.partial / sha

    def has(self, sha: object) -> bool:
        return valid_sha(sha) and (self.final / str(sha)).is_file()

    def size_of(self, sha: str) -> int | None:
        try:
            return (self.final / sha).stat().st_size if valid_sha(sha) else None
        except OSError:
            return None

    # -- writing ----------------------------------------------------------------------------------------------
    def _hold(self, sha: str) -> None:
        with self._lock:
            self._pending[sha] = self._pending.get(sha, 0) + 1

    def _release(self, sha: str) -> None:
        with self._lock:
            left = self._pending[sha] - 1
            if left:
                self._pending[sha] = left
            else:
                del self._pending[sha]

    @contextlib.contextmanager
    def pending(self, sha: str) -> Iterator[None]:
        """Hold while a file is in place but its row is not committed yet: this process's collector skips it."""
        self._hold(sha)
        try:
            yield
        finally:
            self._release(sha)

    @contextlib.contextmanager
    def written(self, chunks: Iterable[bytes | memoryview]) -> Iterator[tuple[str, int]]:
        """`write`, with the file held pending from before its rename until the block (which commits the row that
        references it, checking inside its transaction that the file is there) is over."""
        sha, size = self.write(chunks, hold=True)
        try:
            yield sha, size
        finally:
            self._release(sha)

    def write(self, chunks: Iterable[bytes | memoryview], expected_sha: str | None = None,
              hold: bool = False) -> tuple[str, int]:
        """Write content to a temporary file, hashing it; fsync; rename it to its SHA-256. Returns (sha, size).

        With `expected_sha` the file takes that name whatever its content hashes to (the migration keeps a damaged
        recording as it is, for the scrub to report). With `hold`, the file stays pending (see `written`)."""
        with self._temp() as tmp:
            digest, size = _write_hashed(tmp, chunks)
            digest = expected_sha or digest
            self._install_held(tmp, digest, hold)
            return digest, size

    def restore(self, chunks: Iterable[bytes | memoryview], sha: str, size: int) -> bool:
        """Put a good copy of a recording in place of a damaged one (a primary repairing from its backup): written
        to tmp/ and fsynced, then renamed over the damaged file only if its bytes hash to `sha` and are `size`
        long. False, with nothing changed, if they do not."""
        with self._temp() as tmp:
            digest, written = _write_hashed(tmp, chunks)
            if digest != sha or written != size:
                tmp.unlink()
                return False
            self._install_held(tmp, sha, hold=False)
            return True

    @contextlib.contextmanager
    def _temp(self) -> Iterator[Path]:
        """A new file name in tmp/, known to this process's collector while it is written; removed on error."""
        self.ensure()
        name = uuid.uuid4().hex
        tmp = self.tmp / name
        with self._lock:
            self._temps.add(name)
        try:
            yield tmp
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        finally:
            with self._lock:
                self._temps.discard(name)

    def _install_held(self, tmp: Path, sha: str, hold: bool) -> None:
        self._hold(sha)  # from before the rename: this process's collector never sees it unreferenced
        try:
            self.install(tmp, sha)
        except BaseException:
            self._release(sha)
            raise
        if not hold:
            self._release(sha)

    def install(self, written: Path, sha: str) -> None:
        """Rename a complete, fsynced file to its final name and make the rename durable."""
        os.replace(written, self.path(sha))
        fsync_dir(self.final)

    def install_unsynced(self, written: Path, sha: str) -> None:
        """The rename alone: the caller fsyncs the folder once after a batch of them (before any row commits)."""
        os.replace(written, self.path(sha))

    def adopt_partial(self, sha: str, size: int) -> bool:
        """A partial file that holds a whole recording (a sync killed after its last chunk, before the rename): put
        in place if its bytes hash to `sha` (after an fsync: its pages may never have reached the disk), else
        removed. True if it is in place now."""
        path = self.partial_path(sha)
        digest = hashlib.sha256()
        with open(path, "rb", buffering=0) as fh:
            if os.fstat(fh.fileno()).st_size != size:
                return False
            while data := fh.read(1 << 20):
                digest.update(data)
            if digest.hexdigest() == sha:
                os.fdatasync(fh.fileno())
        if digest.hexdigest() != sha:
            path.unlink()
            return False
        self.install(path, sha)
        return True

    def remove(self, sha: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.path(sha).unlink()

    # -- collection -------------------------------------------------------------------------------------------
    def collect(self, conn: sqlite3.Connection, grace_s: float = GRACE_S, only: Iterable[str] | None = None) -> int:
        """Remove files no row references (all, or only those named); returns how many were removed.

        Holds SQLite's write lock while it reads the references and unlinks, so a row that references a file is
        either committed before (the file is kept) or its writer, inside its own transaction, finds the file gone."""
        if not self.root.is_dir():
            return 0
        now = time.time()
        removed = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            refs = referenced(conn)
            staged = staged_shas(conn)
            candidates = [self.final / sha for sha in only if valid_sha(sha)] if only is not None \
                else _entries(self.final)
            temp_files = _entries(self.tmp) if only is None else []
            # After the listings: a writer marks its file pending before it renames (or creates) it, so a file
            # listed above is either pending here or was committed before this transaction began.
            with self._lock:
                busy = set(self._pending)
                temps = set(self._temps)
            for path in candidates:
                if path.name in refs or path.name in busy or _younger(path, now, grace_s):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
            if only is None:
                for path in _entries(self.partial):
                    if (path.name not in staged or self.has(path.name)) and not _younger(path, now, grace_s):
                        with contextlib.suppress(FileNotFoundError):
                            path.unlink()
                for path in temp_files:
                    if path.name not in temps and not _younger(path, now, grace_s):
                        with contextlib.suppress(FileNotFoundError):
                            path.unlink()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return removed

    def drop_partials(self) -> int:
        """After a sync failed for want of space: what was downloaded and not complete goes."""
        removed = 0
        for path in _entries(self.partial):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
        return removed


def referenced(conn: sqlite3.Connection) -> set[str]:
    """Every SHA-256 a row refers to: the site's recordings and those a sync has staged (their files arrive before
    the apply commits the rows)."""
    return {str(sha) for (sha,) in conn.execute("SELECT sha256 FROM recordings UNION SELECT sha256 FROM "
                                                "stage_recordings")}


def staged_shas(conn: sqlite3.Connection) -> set[str]:
    return {str(sha) for (sha,) in conn.execute("SELECT sha256 FROM stage_recordings")}


def _write_hashed(path: Path, chunks: Iterable[bytes | memoryview]) -> tuple[str, int]:
    """Create `path` with the content, fsynced; returns its SHA-256 (hex) and size."""
    sha = hashlib.sha256()
    size = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for data in chunks:
            sha.update(data)
            size += len(data)
            write_all(fd, [data])
        os.fsync(fd)
    finally:
        os.close(fd)
    return sha.hexdigest(), size


def write_all(fd: int, pieces: Iterable[bytes | memoryview]) -> int:
    """os.writev until every piece is written (a write may be short); returns the bytes written."""
    todo = [memoryview(p) for p in pieces if len(p)]
    total = 0
    while todo:
        n = os.writev(fd, todo[:512])
        total += n
        while n and todo:
            if n >= len(todo[0]):
                n -= len(todo[0])
                todo.pop(0)
            else:
                todo[0] = todo[0][n:]
                n = 0
    return total


def _entries(folder: Path) -> list[Path]:
    try:
        return [folder / e.name for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _younger(path: Path, now: float, grace_s: float) -> bool:
    try:
        return now - path.stat().st_mtime < grace_s
    except FileNotFoundError:
        return False


_STORES: dict[Path, BlobStore] = {}
_STORES_LOCK = threading.Lock()


def for_path(db_path: Path) -> BlobStore:
    root = blob_root(Path(os.path.abspath(db_path)))
    with _STORES_LOCK:
        store = _STORES.get(root)
        if store is None:
            store = _STORES[root] = BlobStore(root)
        return store


def for_conn(conn: sqlite3.Connection) -> BlobStore:
    """The files of the store a connection is open on (its main database file)."""
    for _, name, file in conn.execute("PRAGMA database_list"):
        if name == "main" and file:
            return for_path(Path(file))
    raise ValueError("an in-memory database has no recording files")


def read_chunks(path: Path, chunk_size: int, start: int = 0) -> Iterator[bytes]:
    """A file's content from chunk `start` on, one chunk at a time (never the whole recording in memory)."""
    with open(path, "rb", buffering=0) as fh:
        fh.seek(start * chunk_size)
        while data := fh.read(chunk_size):
            yield data
