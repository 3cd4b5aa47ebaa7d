"""`pa-agent verify DATA_DIR [--json]`: the scrub from the command line, flat out, read-only.

Exit 0: every row and recording matches its recorded hash. Exit 1: something is damaged (one line per finding, or
JSON). If damage was found, it asks the agent serving this folder (or the next one started) to scrub too: a serving
agent repairs (a backup fetches the damaged data again at its next sync) or tells the administrator."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from pa_console.agent.scrub.check import StoreCheck, open_for_verify
from pa_console.agent.store.db import StoreError, open_connection
from pa_console.agent.store.local import set_in
from pa_console.agent.store.migrations import MIGRATIONS


def verify_store(db_path: Path) -> tuple[StoreCheck, float]:
    if not db_path.is_file():
        raise StoreError(f"There is no store at {db_path}; give the DATA_DIR that 'pa-agent init' created.")
    t0 = time.monotonic()
    try:
        conn = open_for_verify(db_path)
    except sqlite3.Error as exc:
        raise StoreError(f"{db_path} cannot be opened ({exc}).") from exc
    try:
        version = _schema_version(conn)
        if version > len(MIGRATIONS):
            raise StoreError(f"{db_path} was written by a newer pa-agent (schema {version}); verify it with that "
                             "version.")
        check = StoreCheck(conn)
        for _ in check.steps():
            pass
    except sqlite3.OperationalError as exc:
        raise StoreError(f"{db_path} could not be read to the end ({exc}); try again.") from exc
    finally:
        conn.close()
    return check, time.monotonic() - t0


def _schema_version(conn: sqlite3.Connection) -> int:
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError:
        return 0  # unreadable: the check names it


def _ask_agent_to_scrub(db_path: Path) -> bool:
    """A one-row write, so that the agent runs its own (repairing) scrub; a store too damaged to write is left be."""
    from pa_console.agent.scrub.service import REQUESTED_KEY

    try:
        conn = open_connection(db_path)
        try:
            conn.execute("BEGIN IMMEDIATE")
            set_in(conn, REQUESTED_KEY, True)
            conn.execute("COMMIT")
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return True


def run(db_path: Path, as_json: bool) -> int:
    check, seconds = verify_store(db_path)
    damaged = check.damaged_count > 0
    asked = _ask_agent_to_scrub(db_path) if damaged else False
    c = check.counts
    rate = c.bytes_done / seconds / 1e6 if seconds > 0 else 0.0
    if as_json:
        doc: dict[str, Any] = {
            "status": "damaged" if damaged else "whole", "rows_checked": c.rows_done,
            "recordings_checked": c.recordings_done, "bytes_checked": c.bytes_done, "duration_s": round(seconds, 3),
            "rate_mb_s": round(rate, 1), "damaged_count": check.damaged_count,
            "damaged": [f.model_dump() for f in check.findings],
            "damaged_truncated": check.damaged_count > len(check.findings), "agent_asked_to_repair": asked}
        print(json.dumps(doc, indent=2))
    else:
        for f in check.findings:
            print(f"damaged {f.kind}{' ' + f.id if f.id else ''}: {f.problem}")
        if check.damaged_count > len(check.findings):
            print(f"... and {check.damaged_count - len(check.findings)} more damaged items")
        summary = (f"{c.rows_done} rows and {c.recordings_done} recordings ({c.bytes_done / 1e6:.1f} MB) checked in "
                   f"{seconds:.1f} s ({rate:.0f} MB/s): ")
        if damaged:
            print(summary + f"{check.damaged_count} damaged." + (
                " The agent serving this folder (or the next one started) scrubs it too: a backup fetches damaged "
                "data again at its next sync, a primary mails the administrator." if asked else ""))
        else:
            print(summary + "whole (every row and recording matches its recorded hash).")
    return 1 if damaged else 0
