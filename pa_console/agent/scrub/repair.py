"""A backup repairs what a scrub found damaged from its primary's good copy, through the ordinary sync.

An incremental sync only moves what changed on the primary, and a damaged item did not change there. So the backup
forgets its sync position: the next sync is a full one, which replaces every row with the primary's (the staged
tables are swapped in whole) and fetches the content of every recording that is not complete here. The damaged
recordings' files are dropped first, so they are exactly the ones fetched again (each checked against its SHA-256
as it arrives); the others stay. Rows are small next to recordings: a full row copy of a million rows takes seconds."""

from __future__ import annotations

import sqlite3

from pa_console.agent.scrub.damage import Damage, save
from pa_console.agent.store import blobs
from pa_console.agent.sync.staging import STATE_KEY


def record(conn: sqlite3.Connection, damage: Damage, refetch: bool) -> None:
    """Keep what the scrub found (one transaction); with refetch, also prepare the backup's repair."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if refetch and (damage.recordings or damage.rows):
            store = blobs.for_conn(conn)
            for entry in damage.recordings:
                row = conn.execute("SELECT sha256 FROM recordings WHERE id = ?", (entry["id"],)).fetchone()
                if row is not None:
                    store.remove(str(row[0]))
            # What is staged stays: a full copy in progress goes on, an incremental one is dropped by the next sync.
            conn.execute("DELETE FROM local WHERE key = ?", (STATE_KEY,))
        save(conn, damage)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
