"""Staging and applying pulls, store to store in one process: whatever is changed on the primary between
interrupted attempts, the backup ends with exactly the primary's rows and digest.

The wire (TLS, framing, kills) is exercised by tests/integration/sync and tests/faults; here the point is the
bookkeeping of versions, deletions, re-creations and resumes, over many random histories."""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from pa_console.agent.store.db import Database
from pa_console.agent.store.rows import KINDS, row_hash
from pa_console.agent.store.site import SiteStore, delete_row, digest_in, upsert_rows
from pa_console.agent.sync import feed, page_image, staging


def _pull(primary: Database, backup: sqlite3.Connection, stop_after: int | None = None,
          tamper: Callable[[bytes], bytes] = lambda image: image) -> bool:
    """One pull attempt; `stop_after` pages, it breaks off as a dropped connection would. True if applied.
    `tamper` changes each page image on its way."""
    store, seq, stg = staging.sync_position(backup)
    own = feed.store_id(primary.connect())
    stream = feed.changes(primary.path, own, seq, store, stg["resume"] if stg else {},
                          stg["store_id"] if stg else "", stg["base"] if stg else -1)
    try:
        header = orjson.loads(next(stream)[4:])
        assert header["format"] == feed.FORMAT
        staging.begin(backup, header)
        for n, message in enumerate(stream):
            (size,) = feed.FRAME_HEADER.unpack(message[:4])
            page = orjson.loads(message[4:4 + size])
            if page["k"] == "end":
                break
            if stop_after is not None and n >= stop_after:
                return False
            if "image" in page:  # many rows: the header, then a frame holding the page's database image
                assert message[4 + size:8 + size] == feed.FRAME_HEADER.pack(page["image"])
                staging.stage_image(backup, page["k"], tamper(message[8 + size:]), page["last"])
            else:
                staging.stage_page(backup, page["k"], page["rows"], page["last"])
    finally:
        stream.close()
    report: dict[str, Any] = {}
    staging.apply(backup, header["digest"], report)
    assert report["backup_digest"] == header["digest"]
    return True


def _rows(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {kind: sorted(conn.execute(f"SELECT {', '.join(cols)} FROM {kind}").fetchall())
            for kind, cols in KINDS.items()}


def _session(rng: random.Random, sid: str | None = None) -> tuple[Any, ...]:
    return (sid or uuid.UUID(int=rng.getrandbits(128)).hex, f"user-{rng.randint(1, 3)}", rng.choice("abc"),
            rng.choice(["ssh", "rdp"]), f"2026-11-{rng.randint(10, 28)}", None, None)


def _mutate(primary: Database, rng: random.Random, live: set[str], gone: set[str]) -> None:
    """Add, change, delete and re-create sessions, and change a setting and a user."""
    with primary.write() as conn:
        new = [_session(rng) for _ in range(rng.randint(0, 25))]
        changed = [_session(rng, sid) for sid in rng.sample(sorted(live), min(len(live), rng.randint(0, 10)))]
        again = [_session(rng, sid) for sid in rng.sample(sorted(gone), min(len(gone), rng.randint(0, 3)))]
        upsert_rows(conn, "sessions", new + changed + again)
        live.update(r[0] for r in new + again)
        gone.difference_update(r[0] for r in again)
        for sid in rng.sample(sorted(live), min(len(live), rng.randint(0, 6))):
            delete_row(conn, "sessions", sid)
            live.discard(sid)
            gone.add(sid)
        upsert_rows(conn, "site_settings", [("email", orjson.dumps({"n": rng.random()}).decode())])
        upsert_rows(conn, "users", [(f"user-{rng.randint(1, 4)}", "U", "u@example.com", rng.choice(["a", "b"]))])


def _hashes_hold(conn: sqlite3.Connection, prefix: str = "") -> None:
    """What the scrub checks: each stored row's hash is `row_hash` of its columns (of the staged rows: prefix
    `stage_`)."""
    for kind, cols in KINDS.items():
        for row in conn.execute(f"SELECT {', '.join(cols)}, rh FROM {prefix}{kind}"):
            assert row_hash(kind, row[:-1]) == row[-1], (kind, row)


@pytest.mark.parametrize("pages", ["images", "json"])
@pytest.mark.parametrize("seed", range(12))
def test_interrupted_pulls_across_changes_end_equal_to_the_primary(tmp_path: Path, seed: int, pages: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed, "PAGE_ROWS", 7)  # many small pages, so that interruptions fall everywhere
    # Pages of rows as database images (what many rows use) or as JSON (what a few rows use).
    monkeypatch.setattr(page_image, "MIN_ROWS", 1 if pages == "images" else 10**9)
    rng = random.Random(seed)
    primary = Database(tmp_path / "primary.db")
    backup_db = Database(tmp_path / "backup.db")
    backup = backup_db.connect()
    live: set[str] = set()
    gone: set[str] = set()
    _mutate(primary, rng, live, gone)
    for _ in range(8):
        # A few broken attempts, the primary changing between them, then one that completes.
        while rng.random() < 0.6 and not _pull(primary, backup, stop_after=rng.randint(0, 12)):
            _mutate(primary, rng, live, gone)
        assert _pull(primary, backup)
        assert _rows(backup) == _rows(primary.connect())
        assert digest_in(backup).sha256 == SiteStore(primary).digest().sha256
        _hashes_hold(backup)
        _mutate(primary, rng, live, gone)
    # Nothing is left staged between syncs, and local change numbers stay unique per kind.
    assert staging.sync_position(backup)[2] is None
    for kind in KINDS:
        dupes = backup.execute(f"SELECT COUNT(*) - COUNT(DISTINCT seq) FROM {kind}").fetchone()[0]
        assert dupes == 0, kind
        assert backup.execute(f"SELECT COUNT(*) FROM stage_{kind}").fetchone()[0] == 0
    primary.close()
    backup_db.close()


def test_a_full_copy_replaces_what_the_backup_had(tmp_path: Path) -> None:
    primary = Database(tmp_path / "primary.db")
    backup_db = Database(tmp_path / "backup.db")
    with backup_db.write() as conn:
        upsert_rows(conn, "sessions", [("stale", "u", "t", "ssh", "x", None, None)])
    with primary.write() as conn:
        upsert_rows(conn, "sessions", [("s1", "u", "t", "ssh", "x", None, None)])
    backup = backup_db.connect()
    assert _pull(primary, backup)
    assert _rows(backup)["sessions"] == [("s1", "u", "t", "ssh", "x", None, None)]
    # The swapped-in table keeps its rules: keys are unique, and it has its indexes again.
    indexes = {r[0] for r in backup.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'sessions' AND "
                                            "type = 'index'")}
    assert indexes == {"sessions_key"}  # the change number is the rowid (schema 6): no index of its own
    assert backup.execute("SELECT count(*) FROM sessions WHERE rowid = seq").fetchone() == (1,)
    with pytest.raises(sqlite3.IntegrityError):
        backup.execute("INSERT INTO sessions VALUES ('s1', 'u', 't', 'ssh', 'x', NULL, NULL, 99, x'00')")
    primary.close()
    backup_db.close()


def test_pages_of_hundreds_of_rows_are_staged_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows go into the staging tables many to a statement; pages whose size is no multiple of that lose nothing."""
    monkeypatch.setattr(feed, "PAGE_ROWS", 517)
    rng = random.Random(7)
    primary = Database(tmp_path / "primary.db")
    backup_db = Database(tmp_path / "backup.db")
    with primary.write() as conn:
        upsert_rows(conn, "sessions", [_session(rng) for _ in range(1234)])
    backup = backup_db.connect()
    assert _pull(primary, backup)
    assert _rows(backup) == _rows(primary.connect())
    assert len(_rows(backup)["sessions"]) == 1234
    primary.close()
    backup_db.close()


def test_values_sqlite_writes_unlike_orjson_are_hashed_the_orjson_way(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A page image's rows are hashed from SQLite's JSON of the stored values, confirmed by the primary's hashes;
    where SQLite writes a value otherwise than orjson (a real: 1.0e+20 against 1e+20), the page is hashed the
    orjson way, so the digest and the scrub's row hashes still hold."""
    monkeypatch.setattr(page_image, "MIN_ROWS", 1)
    monkeypatch.setattr(feed, "PAGE_ROWS", 3)
    primary = Database(tmp_path / "primary.db")
    backup_db = Database(tmp_path / "backup.db")
    with primary.write() as conn:
        upsert_rows(conn, "recordings", [(f"r{i}", 1e20 if i == 4 else i, "ab" * 32, 1 << 20) for i in range(9)])
        upsert_rows(conn, "sessions", [(f"s{i}", "u", "t\n\x01é\"", "ssh", "x", None, None) for i in range(5)])
    backup = backup_db.connect()
    assert _pull(primary, backup)
    assert _rows(backup) == _rows(primary.connect())
    assert digest_in(backup).sha256 == SiteStore(primary).digest().sha256
    _hashes_hold(backup)
    primary.close()
    backup_db.close()


def _wrong_claims(image: bytes) -> bytes:
    """The page's rows with hash claims that are wrong: one row's is another's, one row's is zeros."""
    conn = sqlite3.connect(":memory:")
    conn.deserialize(image)
    conn.execute("UPDATE rows SET rh = (SELECT rh FROM rows ORDER BY rowid DESC LIMIT 1) WHERE rowid = 1")
    conn.execute("UPDATE rows SET rh = zeroblob(32) WHERE rowid = 2")
    conn.commit()
    return conn.serialize()


def test_pages_whose_hash_claims_are_wrong_are_hashed_from_what_is_stored(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The primary's row hashes only confirm the backup's own: a page where they are wrong is staged with the
    hashes of the values as stored (orjson), so the stored rows, their hashes and the digest still hold."""
    monkeypatch.setattr(page_image, "MIN_ROWS", 1)
    monkeypatch.setattr(feed, "PAGE_ROWS", 5)
    rng = random.Random(11)
    primary = Database(tmp_path / "primary.db")
    backup_db = Database(tmp_path / "backup.db")
    with primary.write() as conn:
        upsert_rows(conn, "sessions", [_session(rng) for _ in range(23)])
    backup = backup_db.connect()
    assert _pull(primary, backup, tamper=_wrong_claims)
    assert _rows(backup) == _rows(primary.connect())
    assert digest_in(backup).sha256 == SiteStore(primary).digest().sha256
    _hashes_hold(backup)
    primary.close()
    backup_db.close()


def _begin_full(backup: sqlite3.Connection) -> None:
    staging.begin(backup, {"resume_used": False, "store_id": "s", "since": 0, "upto": 10})


@pytest.mark.parametrize("image", ["garbage", "extra trigger", "other kind", "undeclared columns", "other collation",
                                   "text change number", "blob value", "null key", "null value"])
def test_a_page_image_that_is_no_page_of_its_kind_stages_nothing(tmp_path: Path, image: str) -> None:
    """Whatever the image holds that the staging table would not (its own schema, or values the table's rules
    refuse: the copy is record by record, so nothing converts or refuses them on the way), nothing is staged."""
    backup_db = Database(tmp_path / "backup.db")
    backup = backup_db.connect()
    _begin_full(backup)
    maker = sqlite3.connect(":memory:")
    kind = "users" if image == "other kind" else "sessions"
    declared = page_image.declaration(backup, kind)
    if image == "undeclared columns":
        declared = ", ".join(page_image.columns(kind))
    if image == "other collation":
        declared = declared.replace("id TEXT NOT NULL", "id TEXT COLLATE NOCASE NOT NULL", 1)
    maker.execute(f"CREATE TABLE rows ({declared})")
    if image == "extra trigger":
        maker.execute("CREATE TRIGGER t AFTER INSERT ON rows BEGIN SELECT 1; END")
    row: list[Any] = ["s1", "u", "t", "ssh", "x", None, None, 7, b"\x00" * 32]
    if image == "blob value":
        row[6] = b"\x00"
    if image == "text change number":
        row[7] = "7"  # in the record; the table's rowid is 1
    if image == "null key":
        row[0] = None
    if image == "null value":
        row[3] = None
    if image in ("text change number", "blob value", "null key", "null value"):
        # Written as the primary would not: around the declared types and constraints, as a broken or hostile
        # primary could (the image is only bytes).
        maker.execute("PRAGMA ignore_check_constraints=ON")
        maker.execute(f"CREATE TABLE loose ({', '.join(page_image.columns(kind))})")
        maker.execute("INSERT INTO loose VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        maker.execute("PRAGMA writable_schema=ON")
        sql = maker.execute("SELECT sql FROM sqlite_master WHERE name = 'rows'").fetchone()[0]
        maker.execute("DELETE FROM sqlite_master WHERE name = 'rows'")
        maker.execute("UPDATE sqlite_master SET name = 'rows', tbl_name = 'rows', sql = ? WHERE name = 'loose'",
                      (sql,))
        maker.execute("PRAGMA writable_schema=OFF")
    data = b"SQLite format 3\x00" + b"\xff" * 5000 if image == "garbage" else maker.serialize()
    if image == "text change number":
        # The change number is the table's rowid (schema 6): whatever the record holds in its place, what is
        # staged is an integer, the row's rowid in the image.
        staging.stage_image(backup, "sessions", data, 5)
        assert backup.execute("SELECT typeof(seq), seq, id FROM stage_sessions").fetchall() == [("integer", 1, "s1")]
        _hashes_hold(backup, "stage_")
        backup_db.close()
        return
    with pytest.raises(staging.IntegrityError, match="nothing of it was staged"):
        staging.stage_image(backup, "sessions", data, 5)
    assert backup.execute("SELECT COUNT(*) FROM stage_sessions").fetchone()[0] == 0
    assert not backup.in_transaction
    assert staging.sync_position(backup)[2]["resume"] == {"tombstones": 10}
    backup_db.close()


@pytest.mark.parametrize("second", [8, 3], ids=["the same change number again", "a lower change number"])
def test_a_page_whose_change_numbers_are_not_above_the_staged_ones_stages_nothing(tmp_path: Path, second: int) -> None:
    """Change numbers are the staging tables' rowids: a page cannot stage a number twice, nor slip one in below
    what is staged (the read-back, which proves what is stored, reads the rows above the last one staged)."""
    backup_db = Database(tmp_path / "backup.db")
    backup = backup_db.connect()
    _begin_full(backup)

    def image(seq: int) -> bytes:
        maker = sqlite3.connect(":memory:")
        maker.execute(page_image.create_sql(backup, "sessions"))
        values = (f"s{seq}", "u", "t", "ssh", "x", None, None)
        maker.execute("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (*values, seq, row_hash("sessions", values)))
        return maker.serialize()

    staging.stage_image(backup, "sessions", image(8), 8)
    with pytest.raises(staging.IntegrityError, match="nothing of it was staged"):
        staging.stage_image(backup, "sessions", image(second), 9)
    assert backup.execute("SELECT seq, id FROM stage_sessions").fetchall() == [(8, "s8")]
    assert staging.sync_position(backup)[2]["resume"]["sessions"] == 8
    assert not backup.in_transaction
    backup_db.close()


def test_a_page_declared_like_the_staging_table_is_copied_record_by_record(tmp_path: Path) -> None:
    """What makes the copy cheap (SQLite's transfer of whole records) holds for the pages the primary makes, and
    the staging tables keep the columns the page images carry, in that order."""
    db = Database(tmp_path / "site.db")
    conn = db.connect()
    page_image.attach(conn)
    for kind in KINDS:
        names = tuple(r[1] for r in conn.execute(f"PRAGMA table_info(stage_{kind})"))
        assert names == page_image.columns(kind)
        page_image.start_kind(conn, kind)
        ops = {r[1] for r in conn.execute(f"EXPLAIN INSERT INTO stage_{kind} SELECT * FROM page.rows")}
        assert "RowData" in ops and "Column" not in ops, kind
    db.close()


def _page_kinds(primary: Database) -> list[tuple[str, bool]]:
    """(kind, as an image?) of each page of a full stream."""
    own = feed.store_id(primary.connect())
    pages = []
    for message in feed.changes(primary.path, own, 0, "", {}, "", -1):
        (size,) = feed.FRAME_HEADER.unpack(message[:4])
        page = orjson.loads(message[4:4 + size])
        if page.get("k") in KINDS:
            pages.append((page["k"], "image" in page))
    return pages


def test_many_rows_travel_as_images_and_a_few_as_json(tmp_path: Path) -> None:
    rng = random.Random(3)
    primary = Database(tmp_path / "primary.db")
    with primary.write() as conn:
        upsert_rows(conn, "sessions", [_session(rng) for _ in range(page_image.MIN_ROWS - 1)])
        upsert_rows(conn, "users", [("u1", "U", "u@example.com", "admin")])
    assert sorted(_page_kinds(primary)) == [("sessions", False), ("users", False)]
    with primary.write() as conn:
        upsert_rows(conn, "sessions", [_session(rng)])
    assert sorted(_page_kinds(primary)) == [("sessions", True), ("users", False)]
    primary.close()


def test_the_feed_connection_writes_its_page_database_and_nothing_else(tmp_path: Path) -> None:
    db = Database(tmp_path / "site.db")
    db.connect()
    conn = sqlite3.connect(db.path, isolation_level=None)
    page_image.attach(conn)
    page_image.read_only_but_page(conn)
    page_image.start_kind(conn, "users")
    conn.execute("INSERT INTO page.rows VALUES ('u', 'n', 'e', 'r', 1, x'00')")
    for sql in ("INSERT INTO meta(key, value) VALUES ('x', 'y')", "DELETE FROM users", "CREATE TABLE t (a)",
                "UPDATE meta SET value = 'z'", "DROP TABLE users", "CREATE TEMP TABLE t (a)"):
        with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
            conn.execute(sql)
    assert conn.execute("SELECT COUNT(*) FROM page.rows").fetchone()[0] == 1
    conn.close()
    db.close()
