"""The backup's pull of recording content (POST /peer/blobs): one pinned TLS socket, read in a worker thread straight
into the recordings' partial files.

The frames are those of feed.BlobFeed (a 4-byte length, a JSON header {"r", "i", "n"}, then n bytes of content). The
thread only decrypts: it reads the TLS stream into preallocated 1 MiB buffers (`recv_into`, ~512 KiB at a time), parses
the frames in place and hands each buffer, as steps (chunk begins, content slices, chunk ends), to a sink thread that
gives them to PartialFiles (hashed, then written past the page cache by its writer thread: sync/direct_writer.py); no
bytes object per piece. TLS decryption, SHA-256 and the writes all release the GIL, so the event loop (the agent's API,
the failover probes) runs meanwhile; the loop only receives progress. aiohttp still carries the control calls and the
change stream: this path exists because recordings are the bulk of a first sync, and aiohttp's pieces, its StreamReader
and the event loop's share of every byte cost CPU the backup does not have on two cores.

The TLS context is the peer client's, so the primary's certificate is pinned exactly as for every other call
(pa_console/protocol/tls_pin.py), and the same token authenticates the request."""

from __future__ import annotations

import contextlib
import queue
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from pa_console.agent.peer.tls import describe_connect_error
from pa_console.agent.sync.feed import FRAME_HEADER
from pa_console.agent.sync.recording_files import PartialFiles

_BUFFER_BYTES = 1024 * 1024
_FILL_BYTES = 512 * 1024  # read at least this much before handing it on (or the end of the stream)
_HEAD_MAX = 64 * 1024
_FRAME_HEAD_MAX = 4096
_PROGRESS_BYTES = 4 * 1024 * 1024
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0  # as the aiohttp streams' sock_read


class PullFailed(Exception):
    """The pull stopped; the sentence is for the administrator (what arrived is kept, the next sync resumes)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Peer:
    host: str
    port: int
    path: str  # the endpoint's path, with the API prefix
    context: ssl.SSLContext
    token: str | None
    what: str = "the primary"

    @property
    def where(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class BlobPull:
    """One request for a batch of recordings. `run` blocks (call it in a thread); `abort` from another thread."""

    def __init__(self, peer: Peer, items: list[list[Any]], frames: int, files: PartialFiles,
                 progress: Callable[[int, int], None], room: Callable[[int], None]) -> None:
        self.peer = peer
        self.items = items
        self.frames = frames
        self.files = files
        self.progress = progress  # (content bytes, wire bytes) since the last call; called from the thread
        self.room = room  # raises if `n` more bytes would not fit on the disk
        self._sock: socket.socket | None = None
        self._aborted = threading.Event()

    def abort(self) -> None:
        self._aborted.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        peer = self.peer
        try:
            raw = socket.create_connection((peer.host, peer.port), timeout=CONNECT_TIMEOUT_S)
        except OSError as exc:
            raise PullFailed(describe_connect_error(exc, peer.what, peer.host, peer.port)) from exc
        try:
            raw.settimeout(READ_TIMEOUT_S)
            try:
                tls = peer.context.wrap_socket(raw, server_hostname=peer.host)
            except ssl.SSLCertVerificationError as exc:
                raise PullFailed(f"{peer.what.capitalize()} at {peer.where} presented a different TLS certificate "
                                 "than the one pinned when the relationship was made; if it was reinstalled, break "
                                 "and re-establish the relationship.") from exc
            self._sock = tls
            if self._aborted.is_set():
                raise PullFailed("The pull was stopped.")
            with tls:
                self._exchange(tls)
        except PullFailed:
            raise
        except TimeoutError as exc:
            raise PullFailed(f"{peer.what.capitalize()} at {peer.where} did not answer in time.") from exc
        except (ssl.SSLError, ConnectionError) as exc:
            raise PullFailed(self._broke_off()) from exc
        except OSError as exc:
            if self._aborted.is_set():
                raise PullFailed("The pull was stopped.") from exc
            raise
        finally:
            self._sock = None
            raw.close()

    def _broke_off(self) -> str:
        return ("The connection to the primary broke off while recordings were moving; the next sync continues "
                "from what arrived.")

    def _exchange(self, tls: ssl.SSLSocket) -> None:
        peer = self.peer
        body = orjson.dumps({"items": self.items})
        head = (f"POST {peer.path} HTTP/1.1\r\nHost: {peer.where}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n"
                + (f"Authorization: Bearer {peer.token}\r\n" if peer.token else "") + "\r\n").encode()
        tls.sendall(head + body)
        buf = bytearray(_BUFFER_BYTES)
        view = memoryview(buf)
        filled = 0
        while (end := bytes(view[:filled]).find(b"\r\n\r\n")) < 0:
            if filled >= _HEAD_MAX:
                raise PullFailed(f"{peer.what.capitalize()} at {peer.where} sent a response that is not HTTP.")
            n = tls.recv_into(view[filled:_HEAD_MAX])
            if not n:
                raise PullFailed(self._broke_off())
            filled += n
        status, length = _parse_head(bytes(view[:end]))
        start = end + 4
        if status >= 400 or status != 200 or length is None:
            raise PullFailed(self._refusal(tls, status, length, bytes(view[start:filled])), status)
        self._frames(tls, view, start, filled, length)

    def _refusal(self, tls: ssl.SSLSocket, status: int, length: int | None, got: bytes) -> str:
        want = min(length or 0, _HEAD_MAX)
        with contextlib.suppress(OSError):
            while len(got) < want:
                more = tls.recv(want - len(got))
                if not more:
                    break
                got += more
        detail = None
        with contextlib.suppress(orjson.JSONDecodeError):
            doc = orjson.loads(got)
            detail = doc.get("detail") if isinstance(doc, dict) else None
        return str(detail or f"{self.peer.what} answered HTTP {status}.")

    def _frames(self, tls: ssl.SSLSocket, view: memoryview, pos: int, filled: int, length: int) -> None:
        """Parse frames out of the buffers while the sink thread hashes and writes the ones before. What was read
        is written and reported whatever happens: a sync that breaks off says how much it moved (a resumed one does
        not move it again)."""
        unreported = [0, 0]
        sink = _Sink(self.files, view)
        try:
            self._frames_into(tls, sink, pos, filled, length, unreported)
        except BaseException:
            sink.close(raise_error=False)  # what was handed over is written; the first error speaks
            raise
        else:
            sink.close()
        finally:
            if any(unreported):
                self.progress(*unreported)

    def _frames_into(self, tls: ssl.SSLSocket, sink: _Sink, pos: int, filled: int, length: int,
                     unreported: list[int]) -> None:
        """Each round: fill a buffer (>= _FILL_BYTES, or to the end of the body), turn what it holds into steps
        (begin, content slices, end), hand it to the sink and take a free buffer, carrying over the start of a frame
        header cut by the buffer's end. `left` counts the body still unread; `unreported` (content, wire bytes) is
        reset as it is reported."""
        frames = self.frames
        left = length - (filled - pos)
        content_left = -1  # bytes of the current chunk's content still to come; -1: between frames
        unchecked = 0
        view = sink.view
        while frames:
            cut: BaseException | None = None
            try:
                while filled < _FILL_BYTES and left:
                    n = tls.recv_into(view[filled:filled + min(len(view) - filled, left)])
                    if not n:
                        raise PullFailed(self._broke_off())
                    filled += n
                    left -= n
            except (OSError, PullFailed) as exc:  # what did arrive is still parsed and written (resumable)
                cut, left = exc, 0
            steps: list[_Step] = []
            while frames and pos < filled:
                if content_left > 0:
                    take = min(content_left, filled - pos)
                    if unchecked <= 0:
                        self.room(_PROGRESS_BYTES)
                        unchecked = _PROGRESS_BYTES
                    steps.append(view[pos:pos + take])
                    pos += take
                    content_left -= take
                    unchecked -= take
                    unreported[0] += take
                    unreported[1] += take
                    if content_left == 0:
                        steps.append(_END)
                        frames -= 1
                        content_left = -1
                    continue
                # A frame's length prefix and header, whole in this buffer (else carried over to the next).
                if filled - pos < FRAME_HEADER.size:
                    break
                (head_len,) = FRAME_HEADER.unpack(view[pos:pos + FRAME_HEADER.size])
                if head_len > _FRAME_HEAD_MAX:
                    raise PullFailed(f"The primary's recording stream could not be read (a frame header of "
                                     f"{head_len} bytes).")
                if filled - pos < FRAME_HEADER.size + head_len:
                    break
                rid, idx, size, gone = _frame_head(bytes(view[pos + FRAME_HEADER.size:pos + FRAME_HEADER.size
                                                              + head_len]))
                pos += FRAME_HEADER.size + head_len
                unreported[1] += FRAME_HEADER.size + head_len
                if gone:
                    raise PullFailed("A recording was deleted on the primary during the sync; the next sync takes "
                                     "the deletion into account.")
                steps.append((rid, idx))
                if size:
                    content_left = size
                else:
                    steps.append(_END)
                    frames -= 1
            if not frames or not left:
                sink.hand(steps, view)
                if frames:  # the body ended (or broke off) before the last frame
                    raise cut or PullFailed(self._broke_off())
                break
            carry = bytes(view[pos:filled])  # at most a frame header's start
            view = sink.hand(steps, view) if steps else view
            view[:len(carry)] = carry
            pos, filled = 0, len(carry)
            if unreported[1] >= _PROGRESS_BYTES:
                self.progress(*unreported)
                unreported[:] = [0, 0]


# A step of the sink: a chunk begins (recording id, chunk index), content (a slice of a buffer), the chunk ends.
_Step = tuple[str, int] | memoryview | None
_END: _Step = None
_BUFFERS = 4  # 4 MiB in flight between the reading thread and the sink (8 measured: 1.05x, within the noise)


class _Sink:
    """The thread that hashes and writes what the reading thread parsed, buffer by buffer, so that TLS decryption
    (reading thread) and SHA-256 with the page-cache copy (sink) run on both cores at once: measured on 2 cores, the
    single pulling thread was the bound at ~2.9 s of CPU per GiB. Buffers go round: the reader fills one while the
    sink empties others, and gets one back only when the sink is done with it. The sink's error (a full disk, a chunk
    out of order) is raised in the reader at its next hand-over, and by `close`."""

    def __init__(self, files: PartialFiles, first: memoryview) -> None:
        self.files = files
        self.view = first
        self._free: queue.Queue[memoryview] = queue.Queue()
        for _ in range(_BUFFERS - 1):
            self._free.put(memoryview(bytearray(len(first))))
        self._work: queue.Queue[tuple[list[_Step], memoryview] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="recording-sink", daemon=True)
        self._thread.start()

    def hand(self, steps: list[_Step], view: memoryview) -> memoryview:
        """Give a filled buffer's steps to the sink; returns a free buffer (waits for one)."""
        self._raise()
        self._work.put((steps, view))
        free = self._free.get()
        self._raise()
        return free

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        files = self.files
        while (item := self._work.get()) is not None:
            steps, view = item
            try:
                if self._error is None:
                    for step in steps:
                        if step is None:
                            files.end()
                        elif isinstance(step, memoryview):
                            files.piece(step)
                        else:
                            files.begin(*step)
            except BaseException as exc:  # kept for the reader; the queue is still drained, so it never waits
                self._error = exc
            finally:
                self._free.put(view)

    def close(self, raise_error: bool = True) -> None:
        self._work.put(None)
        self._thread.join()
        if raise_error:
            self._raise()


def _parse_head(raw: bytes) -> tuple[int, int | None]:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise PullFailed("The primary sent a response that is not HTTP.")
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length" and value.strip().isdigit():
            length = int(value.strip())
        elif name == "transfer-encoding" and value.strip().lower() != "identity":
            length = None  # not what the primary's BlobResponse sends: refused below
            break
    return int(parts[1]), length


def _frame_head(raw: bytes) -> tuple[str, int, int, bool]:
    try:
        head = orjson.loads(raw)
        size = int(head["n"])
        if size < 0:
            raise ValueError(size)
        return str(head["r"]), int(head["i"]), size, bool(head.get("gone"))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise PullFailed("The primary's recording stream could not be read (a frame header that could not be "
                         "read).") from exc
