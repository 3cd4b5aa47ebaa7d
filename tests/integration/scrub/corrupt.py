"""Damage as a disk would do it: one bit flipped in the bytes of site.db (below SQLite, which cannot tell) or of a
recording's file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pa_console.agent.store.blobs import blob_root
from pa_console.protocol.constants import CHUNK_SIZE


def checkpoint(db: Path) -> None:
    """Move what the write-ahead log holds into the main file (any SQLite user may do this), so the bytes to flip
    are there and nowhere else."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    sqlite3.connect(db).close()


def flip_everywhere(db: Path, needle: bytes, at: int) -> int:
    """Flip the lowest bit of the byte at `at` within every copy of `needle` in the file (a freed page may still
    hold an old copy; flipping it too is harmless). Returns how many copies there were."""
    checkpoint(db)
    raw = db.read_bytes()
    offsets = []
    start = raw.find(needle)
    while start >= 0:
        offsets.append(start)
        start = raw.find(needle, start + 1)
    with db.open("r+b") as f:
        for off in offsets:
            f.seek(off + at)
            byte = f.read(1)
            f.seek(off + at)
            f.write(bytes([byte[0] ^ 1]))
    return len(offsets)


def recording_ids(db: Path) -> list[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return [str(r[0]) for r in conn.execute("SELECT id FROM recordings ORDER BY id")]


def recording_file(db: Path, recording_id: str) -> Path:
    """Where a recording's content lives (store/blobs.py: a file named by its SHA-256 beside site.db)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (sha,) = conn.execute("SELECT sha256 FROM recordings WHERE id = ?", (recording_id,)).fetchone()
    return blob_root(db) / "by-sha256" / str(sha)


def flip_in_recording(db: Path, recording_id: str, chunk: int = 0, at: int = 32) -> None:
    """One bit of a recording's content, in its file, below the agent (which keeps the file's recorded hash)."""
    path = recording_file(db, recording_id)
    with path.open("r+b") as f:
        f.seek(chunk * CHUNK_SIZE + at)
        byte = f.read(1)
        f.seek(chunk * CHUNK_SIZE + at)
        f.write(bytes([byte[0] ^ 1]))


def flip_in_text(db: Path, text: str, at: int) -> None:
    assert flip_everywhere(db, text.encode(), at) >= 1
