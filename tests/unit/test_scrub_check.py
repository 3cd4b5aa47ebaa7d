"""The scrub's check over a real SQLite store: what it finds, and what it must not call damage (changes made while
it reads). The damage record and the digest that leaves damaged items out."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from pa_console.agent.scrub import repair
from pa_console.agent.scrub.check import StoreCheck, open_for_verify
from pa_console.agent.scrub.damage import Damage, site_digest
from pa_console.agent.store.db import Database
from pa_console.agent.store.site import SiteStore
from pa_console.agent.sync.staging import STATE_KEY
from pa_console.protocol.constants import CHUNK_SIZE


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SiteStore]:
    db = Database(tmp_path / "site.db")
    site = SiteStore(db)
    site.add_user("u1", "Ann", "ann@example.com", "admin")
    site.set_setting("email", {"host": "mail.example.com"})
    for n in range(3):
        site.write_recording([bytes([n]) * (CHUNK_SIZE + 10)], recording_id=f"r{n}")
    site.add_sessions([("s1", "u1", "web", "ssh", "2026-01-01", None, "r0")])
    yield site
    db.close()


def _check(site: SiteStore, whole_file: bool = True) -> StoreCheck:
    conn = open_for_verify(site.db.path)
    try:
        check = StoreCheck(conn, whole_file=whole_file)
        for _ in check.steps():
            pass
    finally:
        conn.close()
    return check


@pytest.mark.parametrize("whole_file", [True, False])
def test_whole_store(store: SiteStore, whole_file: bool) -> None:
    check = _check(store, whole_file)
    assert check.damaged_count == 0 and check.findings == []
    assert check.counts.recordings_done == 3 and check.counts.bytes_done == 3 * (CHUNK_SIZE + 10)
    assert check.counts.rows_done == check.counts.rows_total == 1 + 1 + 3 + 1


def test_changed_bytes_missing_chunks_and_bad_hashes_are_named(store: SiteStore) -> None:
    # Changed below the write path, as a disk would: recorded hashes untouched.
    _flip(store, "r1", CHUNK_SIZE + 3)
    store.db.blobs.path(_sha(store, "r2")).unlink()
    with store.db.write() as conn:
        conn.execute("UPDATE sessions SET target = 'wab' WHERE id = 's1'")
        conn.execute("UPDATE users SET rh = x'00' WHERE id = 'u1'")
        conn.execute("UPDATE meta SET value = '12345' WHERE key = 'digest_sum'")
    found = {(f.kind, f.id): f.problem for f in _check(store).findings}
    assert found == {
        ("recording_content", "r1"): "its SHA-256 differs from the one recorded when it was written",
        ("recording_content", "r2"): "its content is missing",
        ("sessions", "s1"): "the row's content does not match its recorded hash",
        ("users", "u1"): "the row's recorded hash is unreadable",
        ("digest", None): found[("digest", None)],
    }
    assert "is not the sum of the rows' hashes" in found[("digest", None)]


def test_what_changes_while_it_reads_is_not_damage(store: SiteStore) -> None:
    conn = open_for_verify(store.db.path)
    check = StoreCheck(conn)
    steps = check.steps()
    while check.phase != "recordings" or check.counts.bytes_done == 0:
        next(steps)
    # r0 is half read: it is deleted, r1 and r2 are replaced by other content through the write path.
    store.delete("recordings", "r0")
    store.write_recording([b"new" * 1000], recording_id="r1")
    for _ in steps:
        pass
    conn.close()
    assert check.findings == [], check.findings


def test_damage_left_out_of_the_digest_until_repaired(store: SiteStore) -> None:
    whole = site_digest(store.db.connect())
    assert whole.damaged == 0
    _flip(store, "r1", 0)
    with store.db.write() as conn:
        conn.execute("INSERT INTO local(key, value) VALUES (?, '{}')", (STATE_KEY,))
    check = _check(store)
    conn = store.db.connect()
    repair.record(conn, Damage.from_findings(check.findings, refetch=True), refetch=True)
    # The backup's repair: r1's file is gone (the next sync fetches it), the sync position is forgotten.
    assert not store.db.blobs.has(_sha(store, "r1"))
    assert conn.execute("SELECT COUNT(*) FROM local WHERE key = ?", (STATE_KEY,)).fetchone()[0] == 0
    damaged = site_digest(conn)
    assert damaged.damaged == 1 and damaged.sha256 != whole.sha256 and damaged.verified_at is not None
    # What a sync does: the file written back whole (checked against the SHA-256 as it arrives).
    store.db.blobs.write([bytes([1]) * (CHUNK_SIZE + 10)])
    repaired = site_digest(conn)
    assert repaired.damaged == 0 and repaired.sha256 == whole.sha256
    assert _check(store).findings == []


def _sha(site: SiteStore, rid: str) -> str:
    return str(site.db.connect().execute("SELECT sha256 FROM recordings WHERE id = ?", (rid,)).fetchone()[0])


def _flip(site: SiteStore, rid: str, offset: int) -> None:
    """One byte changed in a recording's file, as a disk would change it (its recorded hash untouched)."""
    with open(site.db.blobs.path(_sha(site, rid)), "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0x40]))


def test_damage_record_survives_junk() -> None:
    assert Damage.from_json("junk") == Damage()
    assert Damage.from_json({"recordings": [1, {"x": 2}], "rows": [["nope", "a"], ["users", "u"]]}).rows == [
        ("users", "u")]


def test_unreadable_file_is_one_finding(tmp_path: Path) -> None:
    path = tmp_path / "site.db"
    path.write_bytes(b"not a database at all" * 200)
    conn = open_for_verify(path)
    check = StoreCheck(conn)
    for _ in check.steps():
        pass
    conn.close()
    assert [(f.kind, f.id) for f in check.findings] == [("store", None)]
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(path).execute("SELECT 1 FROM users").fetchall()
