"""Demo site data, written through the same write path as everything else (so it is synchronised like any change)."""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid
from collections.abc import Iterator

from pa_console.agent.store.events import EventLog
from pa_console.agent.store.site import SiteStore
from pa_console.protocol.constants import CHUNK_SIZE
from pa_console.protocol.events import SiteChanged, wire_data

_TARGETS = ["db-prod-01", "web-02", "jump-eu", "payroll", "k8s-master", "dc01", "fw-edge", "vault"]
_PROTOCOLS = ["ssh", "rdp", "vnc", "https", "telnet"]
_BATCH = 2000


def random_bytes(total: int) -> Iterator[bytes]:
    left = total
    while left > 0:
        n = min(CHUNK_SIZE, left)
        yield os.urandom(n)
        left -= n


def seed(site: SiteStore, events: EventLog, sessions: int, recording_bytes: int) -> None:
    rng = random.Random()
    users = [f"user-{i}" for i in range(1, 6)]
    for uid in users:
        if not site.exists("users", uid):
            site.add_user(uid, uid.replace("-", " ").title(), f"{uid}@example.com", rng.choice(["admin", "tech"]))
    now = dt.datetime.now(dt.UTC)
    batch: list[tuple[object, ...]] = []
    total_bytes = 0
    for i in range(sessions):
        recording_id = None
        if recording_bytes > 0:
            written = site.write_recording(random_bytes(recording_bytes))
            recording_id = written.id
            total_bytes += written.size
        start = now - dt.timedelta(minutes=rng.randint(1, 60 * 24 * 30))
        end = start + dt.timedelta(minutes=rng.randint(1, 240))
        batch.append((uuid.uuid4().hex, rng.choice(users), rng.choice(_TARGETS), rng.choice(_PROTOCOLS),
                      start.isoformat(), end.isoformat(), recording_id))
        if len(batch) >= _BATCH or i == sessions - 1:
            site.add_sessions(batch)
            batch = []
    events.append(*wire_data(SiteChanged(sessions_added=sessions, recording_bytes=total_bytes, source="seed")))
