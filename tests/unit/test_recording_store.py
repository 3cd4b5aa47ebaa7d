"""Recording content as files written once (store/blobs.py): named by SHA-256, referenced by rows, collected when
no row references them, and never collected while referenced or on its way to being referenced."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from pa_console.agent.store.db import Database
from pa_console.agent.store.site import SiteStore, digest_in
from pa_console.agent.sync import feed, staging
from pa_console.agent.sync.feed import BlobFeed
from pa_console.agent.sync.recording_files import PartialFiles
from pa_console.protocol.constants import CHUNK_SIZE
from tests.blob_frames import FrameParser
from tests.faults.support import small_disk


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SiteStore]:
    db = Database(tmp_path / "site.db")
    yield SiteStore(db)
    db.close()


def _files(site: SiteStore) -> set[str]:
    return {p.name for p in site.db.blobs.final.iterdir()}


def test_written_once_read_back_and_identical_content_is_one_file(site: SiteStore) -> None:
    content = os.urandom(2 * CHUNK_SIZE + 7)
    a = site.write_recording([content[:100], content[100:]], recording_id="a")
    b = site.write_recording([content], recording_id="b")
    assert a.sha256 == b.sha256 == hashlib.sha256(content).hexdigest()
    assert _files(site) == {a.sha256}
    assert site.db.blobs.path(a.sha256).stat().st_mode & 0o777 == 0o600
    assert b"".join(site.read_recording("a")) == content
    assert [len(c) for c in site.read_recording("b", from_chunk=1)] == [CHUNK_SIZE, 7]
    # One of two references goes: the file stays; the last goes: the file goes.
    site.delete("recordings", "a")
    assert _files(site) == {a.sha256} and b"".join(site.read_recording("b")) == content
    site.delete("recordings", "b")
    assert _files(site) == set()
    # Empty content is a recording too (one empty chunk on the wire).
    empty = site.write_recording([], recording_id="e")
    assert empty.size == 0 and site.db.blobs.path(empty.sha256).stat().st_size == 0


def test_rewritten_recording_leaves_no_unused_file_and_the_digest_is_as_before(site: SiteStore) -> None:
    site.write_recording([b"one" * 1000], recording_id="r")
    site.write_recording([b"two" * 1000], recording_id="r")
    assert _files(site) == {hashlib.sha256(b"two" * 1000).hexdigest()}
    # The row (and so its hash and the digest) is what it always was: id, size, sha256, chunk size.
    row = site.db.connect().execute("SELECT id, size, sha256, chunk_size FROM recordings").fetchall()
    assert row == [("r", 3000, hashlib.sha256(b"two" * 1000).hexdigest(), CHUNK_SIZE)]


def test_a_refused_write_leaves_no_file(site: SiteStore) -> None:
    with site.db.write() as conn:
        conn.execute("INSERT INTO local(key, value) VALUES ('role', '\"backup\"')")
    with pytest.raises(Exception, match="backup"):
        site.write_recording([b"x" * 5000], recording_id="r")
    assert _files(site) == set() and list(site.db.blobs.tmp.iterdir()) == []


def test_collection_keeps_referenced_staged_pending_and_recent_files(site: SiteStore) -> None:
    blobs, conn = site.db.blobs, site.db.connect()
    live = site.write_recording([b"live"], recording_id="live").sha256
    staged, _ = blobs.write([b"staged"])  # a backup's sync: file in place, its row staged, not applied yet
    conn.execute("INSERT INTO stage_recordings VALUES ('s', 6, ?, ?, 1, x'00')", (staged, CHUNK_SIZE))
    orphan, _ = blobs.write([b"orphan"])
    young, _ = blobs.write([b"young"])
    inflight, _ = blobs.write([b"in flight"])
    old = os.path.getmtime(blobs.path(orphan)) - 3600
    for sha in (live, staged, orphan, inflight):
        os.utime(blobs.path(sha), (old, old))
    (blobs.tmp / "left-by-a-crash").write_bytes(b"x")
    os.utime(blobs.tmp / "left-by-a-crash", (old, old))
    blobs.ensure()
    (blobs.partial / ("0" * 64)).write_bytes(b"a download no sync wants any more")
    os.utime(blobs.partial / ("0" * 64), (old, old))
    with blobs.pending(inflight):
        assert blobs.collect(conn) == 1  # the orphan only
    assert _files(site) == {live, staged, young, inflight}
    assert list(blobs.tmp.iterdir()) == [] and list(blobs.partial.iterdir()) == []
    # Outside its pending window and old enough, an unreferenced file goes; the grace age can be waived.
    assert blobs.collect(conn) == 1 and blobs.collect(conn, grace_s=0) == 1
    assert _files(site) == {live, staged}
    conn.execute("DELETE FROM stage_recordings")
    blobs.collect(conn, grace_s=0)
    assert _files(site) == {live}


def test_collection_racing_writers_never_loses_a_committed_recording(site: SiteStore) -> None:
    """Writers and collectors (with no grace at all) in threads: every committed row's file is there."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def collect() -> None:
        db = site.db
        while not stop.is_set():
            try:
                db.blobs.collect(db.connect(), grace_s=0)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                return
            time.sleep(0.002)  # let writers take the lock too (SQLite's busy wait backs off to long sleeps)

    collectors = [threading.Thread(target=collect) for _ in range(2)]
    for t in collectors:
        t.start()
    try:
        for n in range(60):
            # Half the writes repeat content (the file exists already: the riskiest window).
            site.write_recording([str(n % 30).encode() * 999], recording_id=f"r{n}")
    finally:
        stop.set()
        for t in collectors:
            t.join()
    assert errors == []
    for rid, sha in site.db.connect().execute("SELECT id, sha256 FROM recordings"):
        assert site.db.blobs.has(sha), rid
        assert b"".join(site.read_recording(rid)) == str(int(rid[1:]) % 30).encode() * 999


def test_a_row_whose_file_vanished_before_its_commit_is_refused(site: SiteStore, monkeypatch: pytest.MonkeyPatch) \
        -> None:
    """The window between rename and commit, forced: another process's collector removed the file. The write is
    refused (send it again), and no row points at nothing."""
    blobs = site.db.blobs
    real_install = blobs.install

    def install_then_lose(written: Path, sha: str) -> None:
        real_install(written, sha)
        blobs.path(sha).unlink()

    monkeypatch.setattr(blobs, "install", install_then_lose)
    with pytest.raises(Exception, match="send it again"):
        site.write_recording([b"lost"], recording_id="r")
    assert site.db.connect().execute("SELECT COUNT(*) FROM recordings").fetchone()[0] == 0



def test_a_full_disk_while_writing_a_file_keeps_what_was_there(tmp_path: Path) -> None:
    with small_disk(tmp_path / "small", 8) as disk:
        db = Database(disk / "site.db")
        site = SiteStore(db)
        kept = site.write_recording([b"k" * CHUNK_SIZE], recording_id="kept")
        with pytest.raises(OSError) as caught:
            site.write_recording((os.urandom(CHUNK_SIZE) for _ in range(16)), recording_id="too-big")
        assert caught.value.errno == errno.ENOSPC
        assert list(db.blobs.tmp.iterdir()) == []  # the half-written file is gone: its space is back
        assert _files(site) == {kept.sha256} and b"".join(site.read_recording("kept")) == b"k" * CHUNK_SIZE
        assert not site.exists("recordings", "too-big")
        db.close()


def _sync(primary: Database, backup: Database) -> None:
    """One pull as the engine does it, without a network: rows staged, recordings' files fetched from the
    primary's frames, the apply, then the collection of what the apply released."""
    conn = backup.connect()
    store, seq, stg = staging.sync_position(conn)
    stream = feed.changes(primary.path, feed.store_id(primary.connect()), seq, store, stg["resume"] if stg else {},
                          stg["store_id"] if stg else "", stg["base"] if stg else -1)
    try:
        header = orjson.loads(next(stream)[4:])
        staging.begin(conn, header)
        for message in stream:
            (size,) = feed.FRAME_HEADER.unpack(message[:4])
            page = orjson.loads(message[4:4 + size])
            if page["k"] == "end":
                break
            staging.stage_page(conn, page["k"], page["rows"], page["last"])
    finally:
        stream.close()
    needed = staging.needed_recordings(conn)
    blob_feed = BlobFeed(primary.path, [(n.id, n.have_chunks) for n in needed])
    files = PartialFiles(backup.blobs, needed)
    parser = FrameParser()
    try:
        while pieces := blob_feed.read(4 * CHUNK_SIZE):
            for piece in pieces:
                files.write([(f.recording_id, f.index, f.pieces) for f in parser.feed(piece)])
        files.finish()
    finally:
        blob_feed.close()
        files.close()
    released = staging.files_the_apply_may_release(conn)
    staging.apply(conn, header["digest"], {})
    if released is None:
        backup.blobs.collect(conn)
    else:
        backup.blobs.collect(conn, 0.0, released)


def test_a_backup_keeps_exactly_the_files_its_rows_reference_through_full_and_incremental_syncs(
        tmp_path: Path) -> None:
    primary, backup = Database(tmp_path / "primary.db"), Database(tmp_path / "backup.db")
    site = SiteStore(primary)
    for n in range(4):
        site.write_recording([bytes([n]) * (CHUNK_SIZE + n)], recording_id=f"r{n}")
    site.write_recording([bytes([3]) * (CHUNK_SIZE + 3)], recording_id="twin")  # the same content as r3
    _sync(primary, backup)

    def live(db: Database) -> set[str]:
        return {str(r[0]) for r in db.connect().execute("SELECT sha256 FROM recordings")}

    assert _files(SiteStore(backup)) == live(primary) and digest_in(backup.connect()) == digest_in(primary.connect())
    # Incremental: one deleted, one rewritten with new content, one of the twins deleted (its file still used).
    site.delete("recordings", "r0")
    site.write_recording([b"new" * 1000], recording_id="r1")
    site.delete("recordings", "twin")
    _sync(primary, backup)
    assert _files(SiteStore(backup)) == live(primary) == _files(site)
    assert b"".join(SiteStore(backup).read_recording("r1")) == b"new" * 1000
    assert digest_in(backup.connect()).sha256 == digest_in(primary.connect()).sha256
    primary.close()
    backup.close()
