"""The recordings' transfer path without a network: the primary's frames, read back piece by piece, written back."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from pa_console.agent.store.db import Database
from pa_console.agent.store.site import SiteStore
from pa_console.agent.sync import staging
from pa_console.agent.sync.feed import BlobFeed, ChunkChanged, message
from pa_console.agent.sync.recording_files import ContentError, PartialFiles
from pa_console.protocol.constants import CHUNK_SIZE
from tests.blob_frames import Frame, FrameError, FrameParser


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
    sha = hashlib.sha256(content).hexdigest()
    chunks = [content[i:i + CHUNK_SIZE] for i in range(0, len(content), CHUNK_SIZE)]
    need = staging.NeededRecording("r1", len(content), sha, CHUNK_SIZE, 0)
    files = PartialFiles(db.blobs, [need])
    pieces = [(need.id, i, [memoryview(c)[:100], memoryview(c)[100:]]) for i, c in enumerate(chunks)]
    files.write(pieces[:2])
    files.flush()  # the writes run on a thread of their own, behind the hashing
    assert db.blobs.partial_path(sha).stat().st_size == 2 * CHUNK_SIZE  # not in place before the last chunk
    assert not db.blobs.has(sha)
    files.write(pieces[2:])
    files.finish()
    files.close()
    assert files.damaged == [] and files.finished == ["r1"]
    assert db.blobs.path(sha).read_bytes() == content
    assert not db.blobs.partial_path(sha).exists()


def test_a_resumed_download_is_hashed_from_its_partial_and_damage_is_caught(tmp_path: Path) -> None:
    db = Database(tmp_path / "site.db")
    content = random.Random(4).randbytes(3 * CHUNK_SIZE + 5)
    sha = hashlib.sha256(content).hexdigest()
    chunks = [content[i:i + CHUNK_SIZE] for i in range(0, len(content), CHUNK_SIZE)]
    # What a killed backup leaves: a partial with one whole chunk and the start of the second.
    db.blobs.ensure()
    db.blobs.partial_path(sha).write_bytes(chunks[0] + chunks[1][:1000])
    resumed = PartialFiles(db.blobs, [staging.NeededRecording("r1", len(content), sha, CHUNK_SIZE, 1)])
    resumed.write([("r1", i, [chunks[i]]) for i in range(1, 4)])
    resumed.finish()
    resumed.close()
    assert resumed.finished == ["r1"] and db.blobs.path(sha).read_bytes() == content
    db.blobs.remove(sha)
    # A flipped byte in what the partial held (a power cut, a bad disk) is caught by the hash at the end, and the
    # partial goes: the next sync fetches the recording whole.
    db.blobs.partial_path(sha).write_bytes(b"\x00" + chunks[0][1:] + chunks[1])
    damaged = PartialFiles(db.blobs, [staging.NeededRecording("r1", len(content), sha, CHUNK_SIZE, 2)])
    damaged.write([("r1", i, [chunks[i]]) for i in range(2, 4)])
    damaged.finish()
    damaged.close()
    assert damaged.damaged == ["r1"] and not db.blobs.has(sha) and not db.blobs.partial_path(sha).exists()
    # A partial cut short (a power cut before its pages reached the disk) where the plan expected more: refused,
    # nothing is put in place, and the next plan starts from what it holds.
    db.blobs.partial_path(sha).write_bytes(chunks[0][:10])
    short = PartialFiles(db.blobs, [staging.NeededRecording("r1", len(content), sha, CHUNK_SIZE, 1)])
    with pytest.raises(ContentError):
        short.write([("r1", 1, [chunks[1]])])
    short.close()
    assert not db.blobs.has(sha)
    db.close()


def test_a_complete_partial_is_adopted_by_its_hash_and_a_damaged_one_fetched_again(tmp_path: Path) -> None:
    """A backup killed after a recording's last chunk, before its rename: the next plan checks the partial's hash
    and puts it in place without moving it again; one that lost bytes (a power cut) is fetched whole."""
    db = Database(tmp_path / "site.db")
    conn = db.connect()
    good, bad = random.Random(5).randbytes(CHUNK_SIZE + 3), random.Random(6).randbytes(2 * CHUNK_SIZE)
    db.blobs.ensure()
    for n, content in enumerate((good, bad)):
        sha = hashlib.sha256(content).hexdigest()
        conn.execute("INSERT INTO stage_recordings VALUES (?, ?, ?, ?, ?, x'00')",  # change numbers: unique
                     (f"r{n}", len(content), sha, CHUNK_SIZE, n + 1))
        db.blobs.partial_path(sha).write_bytes(content if content is good else b"\0" * len(content))
    needed = staging.needed_recordings(conn)
    assert [(n.id, n.have_chunks) for n in needed] == [("r1", 0)]
    assert db.blobs.path(hashlib.sha256(good).hexdigest()).read_bytes() == good
    assert list(db.blobs.partial.iterdir()) == []
    db.close()
