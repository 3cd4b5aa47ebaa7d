"""The recordings' transfer path without a network: the primary's frames, read back piece by piece, written back."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from pa_console.agent.store.db import Database
from pa_console.agent.store.site import SiteStore
from pa_console.agent.sync import staging
from pa_console.agent.sync.blob_frames import Frame, FrameError, FrameParser
from pa_console.agent.sync.feed import BlobFeed, ChunkChanged, message
from pa_console.protocol.constants import CHUNK_SIZE


def _store(tmp_path: Path, sizes: list[int]) -> tuple[Database, list[tuple[str, bytes]]]:
    db = Database(tmp_path / "site.db")
    store = SiteStore(db)
    rng = random.Random(7)
    written = []
    for size in sizes:
        content = rng.randbytes(size)
        rid = store.write_recording([content]).id
        written.append((rid, content))
    return db, written


def _stream(feed: BlobFeed, batch: int) -> bytes:
    out = bytearray()
    while pieces := feed.read(batch):
        for piece in pieces:
            out += piece
    return bytes(out)


def _parse(stream: bytes, seed: int) -> list[Frame]:
    """Feed the stream in random pieces, as a network would."""
    rng = random.Random(seed)
    parser = FrameParser()
    frames: list[Frame] = []
    pos = 0
    while pos < len(stream):
        step = rng.choice([1, 3, 4, 5, 17, 1000, 65536, 300_000])
        frames += parser.feed(stream[pos:pos + step])
        pos += step
    assert not parser.mid_frame
    return frames


def test_frames_carry_every_chunk_and_the_length_is_known_up_front(tmp_path: Path) -> None:
    sizes = [0, 10, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 12345]
    db, written = _store(tmp_path, sizes)
    items = [(rid, 0) for rid, _ in written] + [("no-such-recording", 0), (written[4][0], 1)]
    feed = BlobFeed(db.path, items)
    try:
        stream = _stream(feed, batch=3 * CHUNK_SIZE)
    finally:
        feed.close()
    assert len(stream) == feed.length
    content = dict(written)
    expected = [(rid, i, content[rid][i * CHUNK_SIZE:(i + 1) * CHUNK_SIZE])
                for rid, start in items if rid in content
                for i in range(start, max(1, -(-len(content[rid]) // CHUNK_SIZE)))]
    for seed in range(3):
        frames = _parse(stream, seed)
        assert [(f.recording_id, f.index) for f in frames if f.gone] == [("no-such-recording", 0)]
        got = [(f.recording_id, f.index, b"".join(f.pieces)) for f in frames if not f.gone]
        assert got == expected
        assert all(f.size == sum(len(p) for p in f.pieces) for f in frames)
        assert sum(f.wire_bytes for f in frames) == len(stream)
    db.close()


def test_a_recording_deleted_after_the_plan_stops_the_stream(tmp_path: Path) -> None:
    db, written = _store(tmp_path, [CHUNK_SIZE, CHUNK_SIZE])
    feed = BlobFeed(db.path, [(rid, 0) for rid, _ in written])
    try:
        assert feed.read(1)  # the first recording
        SiteStore(db).delete("recordings", written[1][0])
        with pytest.raises(ChunkChanged):
            feed.read(1)
    finally:
        feed.close()
    db.close()


def test_garbage_is_refused() -> None:
    with pytest.raises(FrameError):
        FrameParser().feed(b"\xff\xff\xff\xff")
    with pytest.raises(FrameError):
        FrameParser().feed(message({"r": "x"}))
    with pytest.raises(FrameError):
        FrameParser().feed(message({"r": "x", "i": 0, "n": -5}))


def test_chunks_written_from_pieces_are_stored_and_hashed(tmp_path: Path) -> None:
    db = Database(tmp_path / "site.db")
    content = random.Random(3).randbytes(2 * CHUNK_SIZE + 99)
    chunks = [content[i:i + CHUNK_SIZE] for i in range(0, len(content), CHUNK_SIZE)]
    need = staging.NeededRecording("r1", len(content), hashlib.sha256(content).hexdigest(), CHUNK_SIZE, 0)
    hashes = staging.RecordingHashes([need])
    conn = db.connect()
    pieces = [(need.id, i, [memoryview(c)[:100], memoryview(c)[100:]]) for i, c in enumerate(chunks)]
    staging.write_chunks(conn, pieces[:2], hashes)
    staging.write_chunks(conn, pieces[2:], hashes)
    assert staging.drop_damaged(conn, hashes) == []
    stored = b"".join(r[0] for r in conn.execute("SELECT data FROM recording_chunks WHERE recording_id = 'r1' "
                                                 "ORDER BY idx"))
    assert stored == content
    # Resumed after the first chunk: the hash starts from what is stored; a damaged chunk is found and dropped.
    resumed = staging.RecordingHashes([staging.NeededRecording("r1", need.size, need.sha256, CHUNK_SIZE, 1)])
    staging.write_chunks(conn, [("r1", 1, [b"x" * len(chunks[1])]), ("r1", 2, [chunks[2]])], resumed)
    assert staging.drop_damaged(conn, resumed) == ["r1"]
    assert conn.execute("SELECT COUNT(*) FROM recording_chunks").fetchone()[0] == 0
    db.close()
