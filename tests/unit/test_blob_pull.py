"""The backup's recording pull (sync/blob_pull.py) against a real TLS server on 127.0.0.1 that sends the primary's
frames (feed.BlobFeed) in awkward pieces: what lands in the files, a pinned certificate, refusals and cut streams."""

from __future__ import annotations

import hashlib
import random
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pa_console.agent.identity import _make_certificate
from pa_console.agent.store.db import Database
from pa_console.agent.store.site import SiteStore
from pa_console.agent.sync import staging
from pa_console.agent.sync.blob_pull import BlobPull, Peer, PullFailed
from pa_console.agent.sync.feed import BlobFeed
from pa_console.agent.sync.recording_files import PartialFiles
from pa_console.protocol.constants import CHUNK_SIZE
from pa_console.protocol.tls_pin import pinned_context


class _Server:
    """Answers one request with `respond(request_bytes) -> response_bytes`, sent in random pieces."""

    def __init__(self, tmp: Path, respond: Callable[[bytes], bytes], cut_at: int | None = None) -> None:
        cert, key = _make_certificate("primary", [])
        (tmp / "c.pem").write_bytes(cert)
        (tmp / "k.pem").write_bytes(key)
        self.cert_pem = cert.decode()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(tmp / "c.pem", tmp / "k.pem")
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.respond, self.cut_at = respond, cut_at
        self.request = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            conn.close()
            return
        with tls:
            while b"\r\n\r\n" not in self.request:
                self.request += tls.recv(65536)
            head, _, body = self.request.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            while len(body) < length:
                body += tls.recv(65536)
            out = self.respond(self.request)
            if self.cut_at is not None:
                out = out[:self.cut_at]
            rng, pos = random.Random(len(out)), 0
            while pos < len(out):
                step = rng.choice([1, 3, 7, 100, 4096, 65536, 700_000])
                tls.sendall(out[pos:pos + step])
                pos += step

    def close(self) -> None:
        self.sock.close()


def _http(status: int, body: bytes) -> bytes:
    return f"HTTP/1.1 {status} X\r\ncontent-length: {len(body)}\r\n\r\n".encode() + body


@pytest.fixture
def primary(tmp_path: Path) -> Iterator[tuple[Database, list[tuple[str, bytes]]]]:
    (tmp_path / "primary").mkdir()
    db = Database(tmp_path / "primary" / "site.db")
    rng = random.Random(9)
    written = []
    for size in (0, 10, CHUNK_SIZE, 2 * CHUNK_SIZE + 12345, 300_000):
        content = rng.randbytes(size)
        written.append((SiteStore(db).write_recording([content]).id, content))
    yield db, written
    db.close()


def _feed_bytes(db: Database, items: list[tuple[str, int]]) -> bytes:
    feed = BlobFeed(db.path, items)
    out = bytearray()
    try:
        while pieces := feed.read(4 * CHUNK_SIZE):
            for piece in pieces:
                out += piece
    finally:
        feed.close()
    return bytes(out)


def _pull(tmp_path: Path, server: _Server, needed: list[staging.NeededRecording],
          cert_pem: str | None = None) -> tuple[Database, PartialFiles, list[int]]:
    backup = Database(tmp_path / "backup.db")
    files = PartialFiles(backup.blobs, needed)
    moved = [0, 0]

    def progress(content: int, wire: int) -> None:
        moved[0] += content
        moved[1] += wire

    peer = Peer("127.0.0.1", server.port, "/api/v1/peer/blobs", pinned_context(cert_pem or server.cert_pem), "tok")
    pull = BlobPull(peer, [[n.id, n.have_chunks] for n in needed], sum(n.chunks - n.have_chunks for n in needed),
                    files, progress, lambda n: None)
    try:
        pull.run()
        files.finish()
    finally:
        files.close()
    return backup, files, moved


def _needed(written: list[tuple[str, bytes]]) -> list[staging.NeededRecording]:
    return [staging.NeededRecording(rid, len(c), hashlib.sha256(c).hexdigest(), CHUNK_SIZE, 0) for rid, c in written]


def test_every_recording_lands_whole_from_pieces_of_any_size(tmp_path: Path, primary: tuple[Database, list[tuple[
        str, bytes]]]) -> None:
    db, written = primary
    stream = _feed_bytes(db, [(rid, 0) for rid, _ in written])
    server = _Server(tmp_path, lambda _: _http(200, stream))
    backup, files, moved = _pull(tmp_path, server, _needed(written))
    assert b"Authorization: Bearer tok" in server.request and b"POST /api/v1/peer/blobs" in server.request
    assert files.damaged == [] and sorted(files.finished) == sorted(rid for rid, _ in written)
    for _, content in written:
        assert backup.blobs.path(hashlib.sha256(content).hexdigest()).read_bytes() == content
    assert moved == [sum(len(c) for _, c in written), len(stream)]
    backup.close()
    server.close()


def test_another_certificate_is_refused_before_anything_is_sent(tmp_path: Path, primary: tuple[Database, list[
        tuple[str, bytes]]]) -> None:
    _, written = primary
    server = _Server(tmp_path, lambda _: _http(200, b""))
    other, _ = _make_certificate("someone else", [])
    with pytest.raises(PullFailed, match="different TLS certificate"):
        _pull(tmp_path, server, _needed(written), cert_pem=other.decode())
    assert server.request == b""
    server.close()


def test_a_refusal_is_named_and_a_cut_stream_keeps_what_arrived(tmp_path: Path, primary: tuple[Database, list[
        tuple[str, bytes]]]) -> None:
    db, written = primary
    server = _Server(tmp_path, lambda _: _http(409, b'{"detail": "This appliance is fenced."}'))
    with pytest.raises(PullFailed, match="fenced") as refused:
        _pull(tmp_path, server, _needed(written))
    assert refused.value.status == 409
    server.close()
    big = [w for w in written if len(w[1]) > 2 * CHUNK_SIZE]
    stream = _http(200, _feed_bytes(db, [(rid, 0) for rid, _ in big]))
    server = _Server(tmp_path, lambda _: stream, cut_at=len(stream) - CHUNK_SIZE // 2)
    with pytest.raises(PullFailed, match="broke off"):
        _pull(tmp_path, server, _needed(big))
    backup = Database(tmp_path / "backup.db")
    sha = hashlib.sha256(big[0][1]).hexdigest()
    assert not backup.blobs.has(sha)
    # What arrived is kept: the first chunk whole and half the second (the next sync resumes from whole chunks).
    held = backup.blobs.partial_path(sha).read_bytes()
    assert len(held) >= CHUNK_SIZE + CHUNK_SIZE // 4 and held == big[0][1][:len(held)]
    backup.close()
    server.close()
