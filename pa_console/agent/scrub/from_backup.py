"""A primary restores what its scrub found damaged from its backup's copy, each item proven before it is used.

The backup's copy is trusted for nothing. A row's values are taken only if they hash to the row hash (`rh`) the
primary recorded when the row was written; a recording's bytes only if they hash to the SHA-256 its row names and
have its size. So an item comes back exactly as it was written, or not at all: a backup that never got the row, or
holds an older version of it, has nothing that matches, and the item stays damaged and reported. Nothing else
changes on the primary: a restored row keeps its change number and hash, so the backup's copy (already equal) is not
moved again, and the site digest (a sum of recorded hashes) is the same before and after."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from pa_console.agent.peer.client import PeerClient, PeerError
from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.scrub import damage as damage_record
from pa_console.agent.scrub.damage import Damage, hashes_to
from pa_console.agent.store import blobs
from pa_console.agent.store.rows import KINDS, row_hash

log = logging.getLogger(__name__)
_READ_TIMEOUT_S = 60.0  # a backup that stops sending mid-file


@dataclass
class Restored:
    rows: int = 0
    recordings: int = 0
    not_held: int = 0  # the backup had no copy that proves itself (never synced, older, or damaged there too)
    failure: str | None = None  # why the backup could not be asked, in one sentence

    @property
    def count(self) -> int:
        return self.rows + self.recordings


async def restore(rt: AgentRuntime, damage: Damage) -> Restored:
    """Ask the backup for every damaged item, put back those that prove themselves, and forget them as damaged."""
    done = Restored()
    try:
        client = PeerClient.for_runtime(rt)
    except PeerError as exc:
        done.failure = str(exc)
        return done
    rows_back: list[tuple[str, str]] = []
    recordings_back: list[str] = []
    try:
        if damage.rows:
            wanted = await asyncio.to_thread(_change_numbers, rt, damage.rows)
            answer = await client.request("POST", "/peer/repair/rows",
                                          json={"rows": [[kind, seq] for seq, (kind, _) in wanted.items()]},
                                          timeout=60.0)
            rows_back = await asyncio.to_thread(_put_rows, rt, wanted, _answered_rows(answer))
        for entry in damage.recordings:
            if await _restore_recording(rt, client, str(entry["id"])):
                recordings_back.append(str(entry["id"]))
    except PeerError as exc:
        done.failure = str(exc)
    done.rows, done.recordings = len(rows_back), len(recordings_back)
    done.not_held = len(damage.rows) + len(damage.recordings) - done.count
    if done.count:
        await asyncio.to_thread(_forget, rt, set(rows_back), set(recordings_back))
    return done


def _change_numbers(rt: AgentRuntime, damaged: list[tuple[str, str]]) -> dict[int, tuple[str, str]]:
    """The damaged rows' change numbers (the same on the backup), by which they are asked for.

    A byte changed in an indexed value is changed in the index's copy too, which then sits out of order: a lookup
    by the damaged key misses it, and an update of the row would fail on the entry it cannot find. So the damaged
    kinds' indexes are rebuilt from the rows first (0.84 s for a million sessions here; repairs are rare). A
    rebuild that fails (the damage made two keys equal) is left out: those rows are then found or not."""
    conn = rt.db.connect()
    conn.execute("BEGIN IMMEDIATE")
    try:
        for kind in sorted({kind for kind, _ in damaged}):
            conn.execute(f"REINDEX {kind}")
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        conn.execute("ROLLBACK")
        log.warning("scrub: the damaged tables' indexes could not be rebuilt (%s); restoring without", exc)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    found: dict[int, tuple[str, str]] = {}
    for kind, key in damaged:
        row = conn.execute(f"SELECT seq FROM {kind} WHERE {KINDS[kind][0]} = ?", (key,)).fetchone()  # noqa: S608  # nosec B608
        if row is not None:
            found[int(row[0])] = (kind, key)
    return found


def _answered_rows(answer: Any) -> list[tuple[str, int, list[Any]]]:
    rows = answer.get("rows") if isinstance(answer, dict) else None
    if not isinstance(rows, list):
        raise PeerError("The backup answered the repair request with something else than rows; run the same "
                        "pa-agent version on both appliances.")
    return [(str(item[0]), item[1], item[2]) for item in rows
            if isinstance(item, list) and len(item) == 3 and item[0] in KINDS and isinstance(item[1], int)
            and isinstance(item[2], list) and len(item[2]) == len(KINDS[str(item[0])])]


def _put_rows(rt: AgentRuntime, wanted: dict[int, tuple[str, str]],
              answered: list[tuple[str, int, list[Any]]]) -> list[tuple[str, str]]:
    """Write back the values that hash to the recorded hash, in place (one transaction); returns their damage
    entries."""
    conn = rt.db.connect()
    back: list[tuple[str, str]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for kind, seq, values in answered:
            if wanted.get(seq, ("", ""))[0] != kind:
                continue  # not asked for
            found = conn.execute(f"SELECT rh FROM {kind} WHERE seq = ?", (seq,)).fetchone()  # noqa: S608  # nosec B608
            # A row written again since the scrub has a new change number: it is no longer here to restore.
            if found is None or row_hash(kind, values) != bytes(found[0]) or hashes_to(conn, kind, seq, found[0]):
                continue
            assignments = ", ".join(f"{col} = ?" for col in KINDS[kind])
            try:
                conn.execute(f"UPDATE {kind} SET {assignments} WHERE seq = ?", (*values, seq))  # noqa: S608  # nosec B608
            except sqlite3.DatabaseError as exc:  # the statement is undone; the row stays damaged and reported
                log.warning("scrub: %s %s could not be restored (%s)", kind, wanted[seq][1], exc)
                continue
            back.append(wanted[seq])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return back


async def _restore_recording(rt: AgentRuntime, client: PeerClient, recording_id: str) -> bool:
    found = await asyncio.to_thread(_recording_row, rt, recording_id)
    if found is None:
        return False  # deleted since the scrub: nothing to restore
    sha, size = found
    loop = asyncio.get_running_loop()
    try:
        async with client.stream("GET", f"/peer/repair/recordings/{sha}") as content:
            return await asyncio.to_thread(blobs.for_path(rt.db.path).restore, _pieces(content, loop, size), sha,
                                           size)
    except _TooLong:
        log.warning("scrub: the backup sent more than recording %s's %d bytes; not taken", recording_id, size)
        return False
    except PeerError as exc:
        if exc.status == 404:
            return False  # the backup holds no copy
        raise


class _TooLong(Exception):
    """The backup sent more bytes than the recording has: it cannot be the recording (and must not fill the disk)."""


def _pieces(content: aiohttp.StreamReader, loop: asyncio.AbstractEventLoop, limit: int) -> Iterator[bytes]:
    """The download as a plain iterator, for the thread that writes it (each read runs on the event loop); never
    more than `limit` bytes."""
    total = 0
    while True:
        piece = asyncio.run_coroutine_threadsafe(content.read(1 << 20), loop).result(_READ_TIMEOUT_S)
        if not piece:
            return
        total += len(piece)
        if total > limit:
            raise _TooLong
        yield piece


def _recording_row(rt: AgentRuntime, recording_id: str) -> tuple[str, int] | None:
    row = rt.db.connect().execute("SELECT sha256, size FROM recordings WHERE id = ?", (recording_id,)).fetchone()
    if row is None or not blobs.valid_sha(row[0]) or not isinstance(row[1], int):
        return None
    return str(row[0]), int(row[1])


def _forget(rt: AgentRuntime, rows: set[tuple[str, str]], recordings: set[str]) -> None:
    """Take the restored items off the kept damage (the digest then counts them again)."""
    conn: sqlite3.Connection = rt.db.connect()
    conn.execute("BEGIN IMMEDIATE")
    try:
        kept = damage_record.load(conn)
        kept.rows = [r for r in kept.rows if r not in rows]
        kept.recordings = [e for e in kept.recordings if str(e["id"]) not in recordings]
        damage_record.save(conn, kept)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
