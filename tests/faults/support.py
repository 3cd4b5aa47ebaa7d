"""Pairs of real agents with fault proxies between them, store checks, and an event watcher (for the fault tests)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pa_console.agent.store.blobs import blob_root
from pa_console.agent.store.rows import KINDS, add_hash, digest_hex, row_hash
from tests.faultproxy import FaultProxy
from tests.harness import RunningAgent, wait_until
from tests.integration.sync.pair import KEY, configure

__all__ = ["KEY", "Pair", "configure", "make_pair", "store_check"]


@dataclass
class Pair:
    primary: RunningAgent
    backup: RunningAgent
    to_primary: FaultProxy  # carries the backup's pulls and probes (the reverse details point at it)
    to_backup: FaultProxy | None  # carries the primary's calls to the backup, when asked for

    def stop(self) -> None:
        self.to_primary.stop()
        if self.to_backup is not None:
            self.to_backup.stop()


def make_pair(agents: Callable[..., RunningAgent], proxy_both_ways: bool = False,
              **backup_settings: Any) -> Pair:
    """Two agents with the same key; the relationship is made with the backup's reverse details on a proxy."""
    p = agents("primary", key_hex=KEY)
    b = agents("backup", key_hex=KEY)
    configure(b, **({"first_sync_delay_s": 3600, "pull_interval_s": 3600} | backup_settings))
    to_p = FaultProxy("127.0.0.1", p.port).start()
    to_b = FaultProxy("127.0.0.1", b.port).start() if proxy_both_ways else None
    r = p.request("POST", "/api/v1/failover/relationship", json={
        "backup": {"host": "127.0.0.1", "port": to_b.port if to_b else b.port},
        "reverse": {"host": "127.0.0.1", "port": to_p.port}})
    assert r.status_code == 201, r.text
    return Pair(p, b, to_p, to_b)


def integrity(db: Path) -> str:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def store_check(agent: RunningAgent) -> list[str]:
    """What is wrong with an agent's store, read from its SQLite file directly (empty: nothing).

    The file passes PRAGMA integrity_check; the digest kept in `meta` equals one recomputed from every row; every
    recording row has all its chunks and they hash to its SHA-256 (no half recording is visible)."""
    db = agent.data_dir / "site.db"
    problems = []
    if (ic := integrity(db)) != "ok":
        problems.append(f"integrity_check: {ic}")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        conn.execute("BEGIN")
        total = 0
        for kind, cols in KINDS.items():
            for row in conn.execute(f"SELECT {', '.join(cols)}, rh FROM {kind}"):
                rh = row_hash(kind, row[:-1])
                if rh != row[-1]:
                    problems.append(f"{kind} {row[0]}: stored row hash is stale")
                total = add_hash(total, rh)
        stored = conn.execute("SELECT value FROM meta WHERE key = 'digest_sum'").fetchone()
        if digest_hex(total) != digest_hex(int(stored[0]) if stored else 0):
            problems.append("the kept digest does not match the rows")
        for rid, size, sha in conn.execute("SELECT id, size, sha256 FROM recordings").fetchall():
            h = hashlib.sha256()
            n = 0
            path = blob_root(db) / "by-sha256" / str(sha)
            if path.is_file():
                with path.open("rb") as fh:
                    while data := fh.read(1 << 20):
                        h.update(data)
                        n += len(data)
            if n != size or h.hexdigest() != sha:
                problems.append(f"recording {rid}: {n} of {size} bytes or wrong SHA-256")
        conn.execute("COMMIT")
    return problems


class EventWatcher:
    """Follows an agent's event stream in a thread and calls `handler(type, data)` for each event."""

    def __init__(self, agent: RunningAgent, handler: Callable[[str, dict[str, Any]], None]) -> None:
        self.agent = agent
        self.handler = handler
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> EventWatcher:
        self._thread.start()
        wait_until(self.connected.is_set, timeout=10, what="the event stream")
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        try:
            with self.agent.client(timeout=120) as c, c.stream("GET", "/api/v1/events",
                                                                params={"follow": "true"}) as r:
                etype = ""
                for line in r.iter_lines():
                    self.connected.set()
                    if self._stop.is_set():
                        return
                    if line.startswith("event: "):
                        etype = line[7:]
                    elif line.startswith("data: "):
                        self.handler(etype, json.loads(line[6:]).get("data", {}))
        except (httpx.HTTPError, OSError):
            return  # the agent went away (killed by the test)


@contextlib.contextmanager
def small_disk(where: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of `size_mb` mounted at `where` for a full-disk test (root only; skipped where it cannot be)."""
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a small tmpfs, and mounting one needs root")
    where.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
