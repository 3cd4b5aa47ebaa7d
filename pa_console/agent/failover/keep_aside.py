"""Split brain: what a demoted primary wrote after the split is kept aside, never silently replaced by a sync."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pa_console.agent.runtime import AgentRuntime


def split_brain_dir(runtime: AgentRuntime) -> Path:
    return runtime.identity.data_dir.root / "split-brain"


def keep_site_copy(runtime: AgentRuntime) -> Path:
    """A consistent copy of the whole store (sqlite3's online backup API, safe while the agent writes).

    Blocking: call it through asyncio.to_thread. The copy is 0600 in a 0700 folder, and the relationship (which
    holds the peer token) is removed from it: the copy is for comparing site data, not for impersonating.
    """
    folder = split_brain_dir(runtime)
    folder.mkdir(mode=0o700, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{stamp}-{runtime.name}-epoch{runtime.epoch}.db"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    src = sqlite3.connect(runtime.db.path)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("DELETE FROM local WHERE key = 'relationship'")
        dst.commit()
    finally:
        dst.close()
        src.close()
    return target
