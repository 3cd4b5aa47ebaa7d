"""Pages of rows as small SQLite database images: the primary copies a page of rows into an in-memory database in
C (`INSERT ... SELECT`) whose one table is declared like the backup's staging table; the backup opens the image as
an attached database and copies its records into staging whole, in C again. So no row is turned into Python values
on either side, only each row's canonical bytes on the backup, which it hashes (see staging.stage_image).

Measured in first syncs of 1M session rows (docs/benchmarks.md): the primary's CPU went from 1.9 to 0.8 s, the
backup's from 6.1 to 3.9 s with undeclared pages (format 3); declared ones (format 4) took the backup to ~3.6-4.0 s
(its copy and checks ~0.7 -> ~0.25 us a row) and the primary +0.09 us a row."""

from __future__ import annotations

import sqlite3

from pa_console.agent.store.rows import KINDS

SCHEMA = "page"
TABLE = "rows"
# Fewer rows than this in a stream of one kind travel as JSON (an image is a few KiB even for one row; an
# incremental pull of one change stays as small as the change).
MIN_ROWS = 200

_WRITES = {
    sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE, sqlite3.SQLITE_CREATE_TABLE,
    sqlite3.SQLITE_DROP_TABLE, sqlite3.SQLITE_CREATE_INDEX, sqlite3.SQLITE_DROP_INDEX, sqlite3.SQLITE_ALTER_TABLE,
    sqlite3.SQLITE_CREATE_TEMP_TABLE, sqlite3.SQLITE_DROP_TEMP_TABLE, sqlite3.SQLITE_CREATE_TEMP_INDEX,
    sqlite3.SQLITE_DROP_TEMP_INDEX, sqlite3.SQLITE_CREATE_TRIGGER, sqlite3.SQLITE_DROP_TRIGGER,
    sqlite3.SQLITE_CREATE_TEMP_TRIGGER, sqlite3.SQLITE_DROP_TEMP_TRIGGER, sqlite3.SQLITE_CREATE_VIEW,
    sqlite3.SQLITE_DROP_VIEW, sqlite3.SQLITE_CREATE_TEMP_VIEW, sqlite3.SQLITE_DROP_TEMP_VIEW,
}


def columns(kind: str) -> tuple[str, ...]:
    return (*KINDS[kind], "seq", "rh")


def attach(conn: sqlite3.Connection) -> None:
    """The in-memory database that holds one page (outside any transaction: SQLite cannot attach inside one)."""
    if not any(name == SCHEMA for _, name, _ in conn.execute("PRAGMA database_list")):
        conn.execute(f"ATTACH ':memory:' AS {SCHEMA}")


def _only_page_writes(action: int, _arg1: str | None, _arg2: str | None, db: str | None, _trigger: str | None) -> int:
    return sqlite3.SQLITE_DENY if action in _WRITES and db != SCHEMA else sqlite3.SQLITE_OK


def read_only_but_page(conn: sqlite3.Connection) -> None:
    """The primary's feed connection may write its page database and nothing else (`query_only` would forbid
    that page too): any other write is refused when its statement is prepared."""
    conn.set_authorizer(_only_page_writes)


def declaration(conn: sqlite3.Connection, kind: str) -> str:
    """The columns of the kind's staging table as declared (types, NOT NULL, the change number as INTEGER PRIMARY
    KEY), in `columns(kind)` order.

    A page declared like the table it is copied into is copied record by record, without decoding a value
    (SQLite's transfer optimisation for `INSERT INTO t SELECT * FROM u`: ~0.35 instead of ~0.55 us a row; with an
    INTEGER PRIMARY KEY, only between tables that both declare the same one). The site table and the staging table
    declare the same types, so no value changes its storage class on the way."""
    declared = [(name, kind_of, notnull, pk) for _, name, kind_of, notnull, _, pk
                in conn.execute(f"PRAGMA main.table_info(stage_{kind})")]  # the pragma's table-valued form is
    # refused by the feed's authorizer (it writes the schema table of its own connection)
    if tuple(name for name, _, _, _ in declared) != columns(kind):
        raise RuntimeError(f"stage_{kind} does not have the columns {columns(kind)}")
    return ", ".join(f"{name} {kind_of}" + (" PRIMARY KEY" if pk else "") + (" NOT NULL" if notnull else "")
                     for name, kind_of, notnull, pk in declared)


def create_sql(conn: sqlite3.Connection, kind: str) -> str:
    """The page table's statement, as SQLite keeps it in the image's schema (without the schema name)."""
    return f"CREATE TABLE {TABLE} ({declaration(conn, kind)})"


def start_kind(conn: sqlite3.Connection, kind: str) -> None:
    """The page table, declared like the kind's staging table on the backup (see `declaration`)."""
    conn.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{TABLE}")
    conn.execute(create_sql(conn, kind).replace("CREATE TABLE ", f"CREATE TABLE {SCHEMA}.", 1))


def fill(conn: sqlite3.Connection, kind: str, after: int, limit: int) -> tuple[int, int]:
    """The next page of a kind's rows (change number > after, in change order) into the page database.
    Returns the rows and the page's last change number."""
    cols = ", ".join(columns(kind))
    conn.execute(f"DELETE FROM {SCHEMA}.{TABLE}")  # noqa: S608  # nosec B608 - constant names
    n = conn.execute(f"INSERT INTO {SCHEMA}.{TABLE} ({cols}) SELECT {cols} FROM main.{kind} "  # noqa: S608  # nosec B608
                     "WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)).rowcount
    last = conn.execute(f"SELECT max(seq) FROM {SCHEMA}.{TABLE}").fetchone()[0]  # noqa: S608  # nosec B608
    return n, int(last or 0)


def image(conn: sqlite3.Connection) -> bytes:
    return conn.serialize(name=SCHEMA)


class ImageError(ValueError):
    """A page image that is no database, or not a page of the kind it is said to be."""


def open_image(conn: sqlite3.Connection, kind: str, data: bytes) -> None:
    """Load a page image as the attached page database, and check it holds one table declared exactly like the
    kind's staging table and nothing else (no view or trigger could then run anything; no collation, default or
    check makes SQLite copy it otherwise than record by record, so the staged values are the image's, storage
    class and all). Its values are checked where they are read anyway, once copied (staging.stage_image: change
    numbers above those staged, no NULL where the table has NOT NULL, no blob)."""
    attach(conn)
    try:
        conn.deserialize(data, name=SCHEMA)
        objects = conn.execute(f"SELECT type, name, sql FROM {SCHEMA}.sqlite_master").fetchall()  # noqa: S608  # nosec B608
    except sqlite3.DatabaseError as exc:
        forget(conn)
        raise ImageError(f"a page of {kind} is not a readable database ({exc})") from exc
    if objects != [("table", TABLE, create_sql(conn, kind))]:
        forget(conn)
        raise ImageError(f"a page of {kind} does not hold the rows of {kind}")


def not_a_page(kind: str) -> ImageError:
    return ImageError(f"a page of {kind} does not hold the rows of {kind}")


def forget(conn: sqlite3.Connection) -> None:
    """Drop the page database: an unreadable attached database would fail every later statement of the
    connection (SQLite reads all schemas to prepare one)."""
    conn.execute(f"DETACH {SCHEMA}")
