"""Disk space for the store: name a full disk in a sentence (free space, about what is needed), check before a
first copy that it can fit."""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

# A full copy needs the data itself plus room for the WAL and the index builds; a margin over the primary's
# store size (measured: a 1 GiB store grew the backup's folder by ~1.05 GiB during the apply).
FULL_COPY_MARGIN = 1.15
FULL_COPY_SLACK_BYTES = 16 * 1024 * 1024


def human(nbytes: float) -> str:
    size = float(nbytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


def free_bytes(folder: Path) -> int:
    return int(shutil.disk_usage(folder).free)


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        text = str(exc).lower()
        return "disk is full" in text or "database or disk is full" in text or getattr(
            exc, "sqlite_errorname", "") == "SQLITE_FULL"
    return False


def full_disk_sentence(folder: Path, needed: int | None) -> str:
    need = f"; the sync needs about {human(needed)}" if needed else ""
    return (f"The disk of the data folder {folder} is full ({human(free_bytes(folder))} free{need}). Free space "
            "there or give the data folder a larger disk; the sync continues where it stopped once there is room.")


def describe_storage_error(exc: BaseException, folder: Path, needed: int | None = None) -> str:
    if is_disk_full(exc):
        return full_disk_sentence(folder, needed)
    return f"{type(exc).__name__}: {exc}"


def full_copy_needs(store_bytes: int) -> int:
    return int(store_bytes * FULL_COPY_MARGIN) + FULL_COPY_SLACK_BYTES
