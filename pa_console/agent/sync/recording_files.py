"""The backup's writing of recording content as it arrives: straight into a partial file per recording.

Chunks come in order (the primary sends each recording's chunks from the first one missing here), so a partial file only
grows, and what it holds after a crash is whole chunks plus perhaps the start of one: a download resumes from its whole
chunks (`staging.needed_recordings`). Whole 1 MiB units are written with O_DIRECT by one writer thread, in order
(sync/direct_writer.py: a third of the CPU of a buffered write plus its fdatasync), a file's last part through the page
cache. The SHA-256 is taken as the bytes arrive (a resumed download first re-reads what the partial holds); when the
last chunk is written the hash is checked, the file fsynced and renamed to its SHA-256 (store/blobs.py). A file whose
bytes do not hash to its recording's SHA-256 (damaged on the way, or a partial that lost its tail in a power cut) is
removed, so the next sync fetches it whole again.

Durability overlaps the network: a finished file's fdatasync and rename run on worker threads, once the writer has
reached it, while the next chunks arrive. Every finished file is fsynced before it is renamed, and the folder after the
renames of a batch (`finish`), before the apply commits the rows that reference them. Measured (1 GiB in 1 MiB
recordings, disk): fdatasync of each file on the receiving thread itself would wait ~2 ms a file (~2 s per GiB); on two
worker threads they cost ~0.3 s of CPU per GiB off the critical path. Asking the kernel to start write-back after each
chunk (`sync_file_range(SYNC_FILE_RANGE_WRITE)`) was tried and dropped: the receiving thread then submits the I/O
itself, 179-187 MB/s against 203-216 MB/s without it in alternating runs."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pa_console.agent.store.blobs import BlobStore, fsync_dir, write_all
from pa_console.agent.sync.direct_writer import UNIT, DirectWriter, aligned, open_direct
from pa_console.agent.sync.staging import NeededRecording

Pieces = Sequence[bytes | memoryview]

_READ_BACK = 1024 * 1024
_SETTLE_THREADS = 2  # fsyncs in flight at once: the disk can merge them
_SETTLING_MAX = 64


_FALLOC_FL_KEEP_SIZE = 1


def _load_fallocate() -> Any:
    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).fallocate
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fn.restype = ctypes.c_int
    return fn


_fallocate = _load_fallocate()


def preallocate(fd: int, size: int) -> None:
    """Reserve a new file's blocks up front, its size unchanged (FALLOC_FL_KEEP_SIZE: the size still says what was
    written, which is what a resume trusts). ext4 then allocates once instead of page by page at write-back:
    1 GiB in 1 MiB files, 4 alternating pairs on the disk, 136-317 MB/s with it against 159-214 MB/s without (3 of 4
    pairs faster; the machine was loaded). A hint: a file system that cannot do it is simply written."""
    if _fallocate is not None and size > 0:
        _fallocate(fd, _FALLOC_FL_KEEP_SIZE, 0, size)


class ContentError(Exception):
    pass


@dataclass
class _Open:
    rec: NeededRecording
    fd: int
    sha: Any
    size: int  # bytes received (hashed), from the file's start
    next_chunk: int
    direct: bool = False  # content goes through `buf` (aligned units, O_DIRECT); else written as it comes
    buf: memoryview | None = None
    fill: int = 0  # bytes of `buf` used; they belong at offset size - fill


@dataclass
class PartialFiles:
    """The recordings of one /peer/blobs batch, written into their partial files. Used by one thread at a time."""

    store: BlobStore
    batch: list[NeededRecording]
    damaged: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    _open: dict[str, _Open] = field(default_factory=dict)
    _settling: list[Future[None]] = field(default_factory=list)
    _executor: ThreadPoolExecutor | None = None
    _writer: DirectWriter | None = None
    _current: _Open | None = None
    _chunk_start: int = 0

    def __post_init__(self) -> None:
        self._settling_lock = threading.Lock()
        self._by_id = {r.id: r for r in self.batch}
        self.store.ensure()

    def write(self, chunks: Sequence[tuple[str, int, Pieces]]) -> None:
        """Write (and hash) chunks in the pieces they arrived in; finish each recording whose last chunk came."""
        for rid, idx, pieces in chunks:
            self.begin(rid, idx)
            for piece in pieces:
                self.piece(piece)
            self.end()

    def begin(self, rid: str, idx: int) -> None:
        """A chunk starts (then `piece` for its bytes, as they arrive, and `end`)."""
        entry = self._open.get(rid) or self._start(rid)
        if idx != entry.next_chunk:
            raise ContentError(f"chunk {idx} of recording {rid[:80]} arrived out of order")
        self._current = entry
        self._chunk_start = entry.size

    def piece(self, data: bytes | memoryview) -> None:
        entry = self._current
        if entry is None:
            raise ContentError("content arrived outside a chunk")
        entry.sha.update(data)  # hashlib, memcpy and os.write release the GIL for pieces this large
        if not entry.direct:
            entry.size += write_all(entry.fd, [data])
            return
        view = memoryview(data).cast("B")
        writer = self._direct()
        while len(view):
            if entry.buf is None:
                entry.buf, entry.fill = writer.buffer(), 0
            take = min(len(view), UNIT - entry.fill)
            entry.buf[entry.fill:entry.fill + take] = view[:take]
            entry.fill += take
            entry.size += take
            view = view[take:]
            if entry.fill == UNIT:
                writer.write(entry.fd, entry.buf, UNIT, entry.size - UNIT)
                entry.buf = None

    def end(self) -> None:
        entry, self._current = self._current, None
        if entry is None:
            raise ContentError("a chunk ended that had not begun")
        entry.next_chunk += 1
        if entry.next_chunk >= entry.rec.chunks:
            self._finish(entry)

    def _start(self, rid: str) -> _Open:
        rec = self._by_id.get(rid)
        if rec is None:
            raise ContentError(f"the primary sent recording {rid[:80]}, which this batch did not ask for")
        path = self.store.partial_path(rec.sha256)
        if not rec.have_chunks:  # from the start: one system call (most files of a first sync)
            fd, direct = open_direct(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            preallocate(fd, rec.size)
            entry = _Open(rec, fd, hashlib.sha256(), 0, 0, direct)
            self._open[rid] = entry
            return entry
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            keep = rec.have_chunks * rec.chunk_size
            if os.fstat(fd).st_size < keep:
                # Shorter than when the batch was planned: the next sync plans again from what it holds.
                raise ContentError(f"the partial file of recording {rid[:80]} shrank")
            os.ftruncate(fd, keep)
            sha = hashlib.sha256()
            done = 0
            while done < keep:
                data = os.pread(fd, min(_READ_BACK, keep - done), done)
                if not data:
                    break
                sha.update(data)
                done += len(data)
            os.lseek(fd, keep, os.SEEK_SET)
        except BaseException:
            os.close(fd)
            raise
        entry = _Open(rec, fd, sha, keep, rec.have_chunks)
        if aligned(keep):  # the rest past the page cache, as a new file's (O_DIRECT set on the open file)
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | getattr(os, "O_DIRECT", 0))
                entry.direct = bool(getattr(os, "O_DIRECT", 0))
        self._open[rid] = entry
        return entry

    def _finish(self, entry: _Open) -> None:
        """Checked by its hash now; its fsync and rename go to a worker thread, so the disk's wait overlaps the
        network (measured here: an fdatasync per 1 MiB file costs ~2 ms of waiting, ~2 s per GiB if serial)."""
        rec = entry.rec
        del self._open[rec.id]
        partial = self.store.partial_path(rec.sha256)
        if entry.size != rec.size or entry.sha.hexdigest() != rec.sha256:
            self.damaged.append(rec.id)
            self._after_writes(entry, lambda: self._drop(entry.fd, partial), always=True)
            return
        if entry.direct:
            self._flush_tail(entry)
            self._direct().then(lambda: self._submit_settle(entry.fd, partial, rec))  # after the file's writes
            return
        self._submit_settle(entry.fd, partial, rec)

    def _submit_settle(self, fd: int, partial: Path, rec: NeededRecording) -> None:
        """fdatasync and rename on the pool; called by the sink's thread or the writer's (hence the lock)."""
        while True:
            with self._settling_lock:
                if len(self._settling) < _SETTLING_MAX:  # bounded: each holds an open file
                    self._settling.append(self._pool().submit(self._settle, fd, partial, rec))
                    return
                oldest = self._settling.pop(0)
            oldest.result()

    def _flush_tail(self, entry: _Open) -> None:
        """What a file's last unit holds, written through the page cache (its length is not aligned)."""
        if entry.buf is not None:
            buf, entry.buf = entry.buf, None
            if entry.fill:
                self._direct().write(entry.fd, buf, entry.fill, entry.size - entry.fill)
            else:
                self._direct().release(buf)

    def _after_writes(self, entry: _Open, job: Callable[[], None], always: bool = False) -> None:
        """`job` once the file's queued writes are done (at once if it has none)."""
        if not entry.direct or self._writer is None:
            job()
            return
        if entry.buf is not None:
            self._writer.release(entry.buf)
            entry.buf = None
        self._writer.then(job, always=always)

    @staticmethod
    def _drop(fd: int, partial: Path) -> None:
        os.close(fd)
        with contextlib.suppress(OSError):
            partial.unlink()

    def _direct(self) -> DirectWriter:
        if self._writer is None:
            self._writer = DirectWriter()
        return self._writer

    def _settle(self, fd: int, partial: Path, rec: NeededRecording) -> None:
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)
        self.store.install_unsynced(partial, rec.sha256)
        self.finished.append(rec.id)

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(_SETTLE_THREADS, thread_name_prefix="recording-fsync")
        return self._executor

    def flush(self) -> None:
        """Wait until what was given so far is written (the writer's thread runs behind the sink)."""
        if self._writer is not None:
            self._writer.drain()

    def finish(self) -> None:
        """Wait until every complete file is fsynced and renamed, then make the renames durable: after this, the
        rows that reference them may be committed."""
        if self._writer is not None:
            self._writer.drain()  # every settle is submitted once the writes before it are done
        settling, self._settling = self._settling, []
        for future in settling:
            future.result()
        if settling:
            fsync_dir(self.store.final)

    def close(self) -> None:
        """Close what is open; the partial files stay (the next sync resumes from their whole chunks, or adopts a
        complete one by its hash)."""
        if self._writer is not None:
            with contextlib.suppress(Exception):  # what arrived is kept: a resume trusts whole chunks of it
                for entry in self._open.values():
                    self._flush_tail(entry)
            with contextlib.suppress(Exception):  # the error that stopped the sync is reported, not this one
                self._writer.drain()
            self._writer.close()
            self._writer = None
        for future in self._settling:
            with contextlib.suppress(Exception):  # the error that stopped the sync is reported, not this one
                future.result()
        self._settling.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        for entry in self._open.values():
            with contextlib.suppress(OSError):
                os.close(entry.fd)
        self._open.clear()
