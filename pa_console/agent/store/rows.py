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


def add_hash(total: int, rh: bytes) -> int:
    return (total + int.from_bytes(rh, "big")) % MOD


def sub_hash(total: int, rh: bytes) -> int:
    return (total - int.from_bytes(rh, "big")) % MOD


def digest_hex(total: int) -> str:
    """The site digest: a hash of the sum of all row hashes, so it is kept up to date in O(1) per write.

    Equal sums mean equal multisets of rows (with overwhelming probability for accidental differences)."""
    return hashlib.sha256(total.to_bytes(32, "big")).hexdigest()
