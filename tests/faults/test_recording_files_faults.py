"""kill -9 of the backup at each phase of a sync with recordings as files (store/blobs.py), then the next sync.

Each phase in turn: while rows arrive, in the middle of the recordings (files half written into their partials),
and once every file is in place and the apply has begun. After the restart the backup must hold a state the
primary had (its previous copy, or the new one if the apply committed), every visible recording's file must hash
to its SHA-256 (support.store_check), and the next sync must end with equal digests, resuming from what had
arrived: whole chunks of the partials, files already in place."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pa_console.agent.store.blobs import blob_root
from tests.faults.support import EventWatcher, Pair, make_pair, store_check
from tests.harness import RunningAgent, wait_until
from tests.integration.sync.pair import sync_now

SESSIONS = 16
RECORDING_BYTES = 3 * 1024 * 1024 + 4321  # four chunks each, the last one short: 48 MiB a batch
# What a killed backup had received but not yet written is lost and moves again: the pull's receive buffers
# (blob_pull._BUFFERS x 1 MiB), the writer's aligned ones (direct_writer._BUFFERS x 1 MiB), socket and TLS buffers.
IN_FLIGHT_BYTES = 24 * 1024 * 1024


@pytest.fixture
def pair(agents: Callable[..., RunningAgent]) -> Iterator[Pair]:
    pair = make_pair(agents, probe_interval_s=60)
    yield pair
    pair.stop()


def _kill(agent: RunningAgent) -> Callable[[], None]:
    assert agent.proc is not None
    pid = agent.proc.pid
    return lambda: os.kill(pid, signal.SIGKILL)


def _clean_batch(pair: Pair) -> int:
    """Bytes a clean sync of one batch pulls (same sizes every batch), and the backup then equals the primary."""
    base = pair.to_primary.total_down
    pair.primary.seed(SESSIONS, RECORDING_BYTES)
    report = sync_now(pair.backup)
    assert report["status"] == "ok", report
    return pair.to_primary.total_down - base


def _killed_then_resumed(pair: Pair, arm: Callable[[Callable[[], None]], None]) -> tuple[int, dict[str, Any]]:
    """Seed a batch, start a sync, kill the backup where `arm` says; check what it keeps; sync again. Returns the
    bytes both attempts pulled and the second one's report."""
    p, b = pair.primary, pair.backup
    previous = b.digest()["sha256"]
    p.seed(SESSIONS, RECORDING_BYTES)
    current = p.digest()["sha256"]
    base = pair.to_primary.total_down
    arm(_kill(b))
    assert b.request("POST", "/api/v1/failover/sync").status_code == 202
    assert b.proc is not None
    wait_until(lambda: b.proc is not None and b.proc.poll() is not None, timeout=120, interval=0.02,
               what="the kill")
    pair.to_primary.clear_trigger()
    b.start()
    assert b.digest()["sha256"] in (previous, current)
    assert store_check(b) == []
    report = sync_now(b)
    assert report["status"] == "ok" and report["digest_ok"] is True, report
    assert b.digest()["sha256"] == p.digest()["sha256"] == current
    assert store_check(b) == []
    return pair.to_primary.total_down - base, report


def test_kill_in_each_phase_keeps_a_state_of_the_primary_and_resumes(pair: Pair) -> None:
    clean = _clean_batch(pair)
    recordings = SESSIONS * RECORDING_BYTES
    rows_bytes = clean - recordings

    # While rows arrive.
    both, _ = _killed_then_resumed(pair, lambda kill: pair.to_primary.on_bytes(max(1, rows_bytes // 2), kill))
    assert both < clean + rows_bytes + IN_FLIGHT_BYTES

    # In the middle of the recordings: partial files, some complete files not yet referenced.
    seen: list[int] = []

    def mid_recordings(kill: Callable[[], None]) -> None:
        def at_half() -> None:
            seen.append(len(list((blob_root(pair.backup.data_dir / "site.db") / "partial").iterdir())))
            kill()
        pair.to_primary.on_bytes(rows_bytes + recordings // 2, at_half)

    both, report = _killed_then_resumed(pair, mid_recordings)
    print(f"\nkilled mid-recordings: both attempts pulled {both} bytes, a clean sync {clean}")
    assert report["resumed"] is True, report
    assert both < clean + IN_FLIGHT_BYTES, (both, clean)  # what had been written was not moved again
    assert seen and seen[0] >= 1  # the kill did land with a download half done

    # Every file in place, the apply begun: the files stay (staged rows reference them) and are not moved again.
    fired = threading.Event()

    def in_apply(kill: Callable[[], None]) -> None:
        def on_event(etype: str, data: dict[str, Any]) -> None:
            if etype == "sync_progress" and data.get("phase") == "applying" and not fired.is_set():
                fired.set()
                time.sleep(0.005)
                kill()
        EventWatcher(pair.backup, on_event).start()

    both, report = _killed_then_resumed(pair, in_apply)
    assert fired.is_set()
    # If the apply had committed, the next sync is incremental (nothing new); if not, it resumes with every file
    # here: either way the recordings moved once.
    assert both < clean + rows_bytes + 1024 * 1024, (both, clean)
    assert not list((blob_root(pair.backup.data_dir / "site.db") / "partial").iterdir())
