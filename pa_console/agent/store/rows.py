"""The synchronised kinds of site data, their columns, and the row hashes summed into the site digest."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

# kind -> columns (the first is the key). Order is part of the sync wire format (rows travel as arrays).
KINDS: dict[str, tuple[str, ...]] = {
    "site_settings": ("key", "value"),
    "users": ("id", "name", "email", "role"),
    "recordings": ("id", "size", "sha256", "chunk_size"),
    "sessions": ("id", "user_id", "target", "protocol", "started_at", "ended_at", "recording_id"),
}
MOD = 1 << 256


def row_hash(kind: str, values: Sequence[Any]) -> bytes:
    return hashlib.sha256(orjson.dumps([kind, *values])).digest()


def hash_staged(kind: str, rows: list[list[Any]]) -> int:
    """Rows as a pull brings them ([values..., seq]) become [seq, values..., rh] in place, ready for
    `INSERT INTO stage_<kind> (seq, <columns>, rh)`; returns the sum of their hashes.

    In place and in one loop because this runs for every row of a full sync (a million rows: every allocation
    counts); the hash is the same `row_hash` the primary computed."""
    sha256, dumps = hashlib.sha256, orjson.dumps
    total = 0
    for row in rows:
        seq = row.pop()
        row.insert(0, kind)
        rh = sha256(dumps(row)).digest()
        row[0] = seq
        row.append(rh)
        total += int.from_bytes(rh, "big")
    return total


def add_hash(total: int, rh: bytes) -> int:
    return (total + int.from_bytes(rh, "big")) % MOD


def sub_hash(total: int, rh: bytes) -> int:
    return (total - int.from_bytes(rh, "big")) % MOD


def digest_hex(total: int) -> str:
    """The site digest: a hash of the sum of all row hashes, so it is kept up to date in O(1) per write.

    Equal sums mean equal multisets of rows (with overwhelming probability for accidental differences)."""
    return hashlib.sha256(total.to_bytes(32, "big")).hexdigest()
