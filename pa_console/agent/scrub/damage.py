"""What the last scrub found damaged and is not repaired yet, and how it shows in the site digest.

The site digest is made of recorded hashes, so a changed byte inside a value leaves it as it was. Once a scrub has
found an item damaged, the digest leaves that item out (its recorded hash is taken off the total): two appliances
then show different digests, as their data differs, until the item is repaired (a backup fetches it again) or a later
scrub finds it whole. Kept in the `local` table (never synchronised); bounded."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import orjson

from pa_console.agent.store import blobs
from pa_console.agent.store.local import set_in
from pa_console.agent.store.rows import KINDS, MOD, digest_hex, row_hash
from pa_console.agent.store.site import digest_in, get_digest_sum
from pa_console.protocol.models import SiteDigest
from pa_console.protocol.verify import VerifyFinding

DAMAGE_KEY = "verify_damage"
_KEPT = 1000  # entries of each kind; a store damaged beyond that differs from any other anyway


@dataclass
class Damage:
    recordings: list[dict[str, Any]] = field(default_factory=list)  # {"id", "refetch": chunks were dropped}
    rows: list[tuple[str, str]] = field(default_factory=list)  # (kind, key)
    verified_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"recordings": self.recordings, "rows": [list(r) for r in self.rows], "verified_at": self.verified_at}

    @classmethod
    def from_json(cls, raw: Any) -> Damage:
        if not isinstance(raw, dict):
            return cls()
        return cls([r for r in raw.get("recordings", []) if isinstance(r, dict) and "id" in r],
                   [(str(k), str(i)) for k, i in raw.get("rows", []) if k in KINDS],
                   raw.get("verified_at"))

    @classmethod
    def from_findings(cls, findings: list[VerifyFinding], refetch: bool) -> Damage:
        damage = cls(verified_at=dt.datetime.now(dt.UTC).isoformat())
        for f in findings:
            if f.id is None:
                continue
            if f.kind == "recording_content" and len(damage.recordings) < _KEPT:
                damage.recordings.append({"id": f.id, "refetch": refetch})
            elif f.kind in KINDS and len(damage.rows) < _KEPT:
                damage.rows.append((f.kind, f.id))
        return damage


def load(conn: sqlite3.Connection) -> Damage:
    row = conn.execute("SELECT value FROM local WHERE key = ?", (DAMAGE_KEY,)).fetchone()
    return Damage.from_json(orjson.loads(row[0]) if row else None)


def save(conn: sqlite3.Connection, damage: Damage) -> None:
    set_in(conn, DAMAGE_KEY, damage.to_json())


def outstanding(conn: sqlite3.Connection, damage: Damage) -> tuple[Damage, list[bytes]]:
    """The entries not repaired since, and the recorded hashes (`rh`) of their rows, as now stored.

    A row is repaired once its values hash to its recorded hash again (or it is gone). A recording whose file a
    backup dropped is repaired once it is back: a sync writes them only after checking them against the
    recording's SHA-256. A recording found damaged on a primary stays damaged until a later scrub finds it whole."""
    left = Damage(verified_at=damage.verified_at)
    hashes: list[bytes] = []
    for entry in damage.recordings:
        row = conn.execute("SELECT sha256, rh FROM recordings WHERE id = ?", (entry["id"],)).fetchone()
        if row is None:
            continue
        if entry.get("refetch") and blobs.for_conn(conn).has(row[0]):
            continue  # a sync wrote its file again, and a sync writes a file only after checking its SHA-256
        left.recordings.append(entry)
        hashes.append(bytes(row[1]))
    for kind, key in damage.rows:
        found = conn.execute(f"SELECT rowid, rh FROM {kind} WHERE {KINDS[kind][0]} = ?", (key,)).fetchone()  # noqa: S608  # nosec B608
        if found is None or hashes_to(conn, kind, found[0], found[1]):
            continue
        left.rows.append((kind, key))
        hashes.append(bytes(found[1]))
    return left, hashes


def hashes_to(conn: sqlite3.Connection, kind: str, rowid: int, rh: bytes) -> bool:
    """The row's values, as stored now, hash to `rh` (its recorded hash): it is whole."""
    try:
        values = conn.execute(f"SELECT {', '.join(KINDS[kind])} FROM {kind} WHERE rowid = ?",  # noqa: S608  # nosec B608
                              (rowid,)).fetchone()
    except sqlite3.OperationalError:  # text that is no longer UTF-8: damaged
        return False
    return values is not None and row_hash(kind, values) == bytes(rh)


def site_digest(conn: sqlite3.Connection) -> SiteDigest:
    """`GET /site/digest`: the digest of the recorded hashes, without the items known to be damaged."""
    conn.execute("BEGIN")
    try:
        digest = digest_in(conn)
        left, hashes = outstanding(conn, load(conn))
        if hashes:
            total = get_digest_sum(conn)
            for rh in set(hashes):
                total -= int.from_bytes(rh, "big")
            digest.sha256 = digest_hex(total % MOD)
        digest.damaged = len(left.recordings) + len(left.rows)
        digest.verified_at = dt.datetime.fromisoformat(left.verified_at) if left.verified_at else None
        return digest
    finally:
        conn.execute("COMMIT")
