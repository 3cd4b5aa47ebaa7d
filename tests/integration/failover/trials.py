"""One pause trial (SIGSTOP the primary past the timeout, SIGCONT it under a hammer of writes) and what it found:
the two-primary window seen in `health`, and acknowledged writes found neither in the survivor nor kept aside."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.faultproxy import FaultProxy
from tests.harness import RunningAgent, SmtpSink, run_cli, wait_until
from tests.integration.failover.helpers import PrimaryWatch
from tests.integration.sync.pair import sync_now


@dataclass
class TrialResult:
    window_s: float  # how long both appliances said "primary" (pause: first to last sample; partition: from the heal)
    both_primary_samples: int  # samples in which both said "primary"
    acked_sessions: int  # sessions acknowledged on the old primary that its peer never confirmed
    acked_writes: int  # email writes acknowledged after SIGCONT
    refused_writes: int
    lost: list[str]  # acknowledged but found nowhere
    refused_then_acked: bool  # an acknowledgement after a refusal on one client (the fence was lifted: a bug)


def session_ids(db: Path) -> set[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM sessions")}


def email_sender(db: Path) -> str | None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT value FROM site_settings WHERE key = 'email'").fetchone()
    return None if row is None else str(json.loads(row[0])["sender"])


def kept_files(agent: RunningAgent) -> list[Path]:
    folder = agent.data_dir / "split-brain"
    return sorted(folder.glob("*.db")) if folder.exists() else []


def hammer_email(agent: RunningAgent, smtp: SmtpSink, seconds: float,
                 tag: str = "w") -> tuple[list[str], int, list[int]]:
    """PUT /api/v1/email one after the other, each with its own sender; returns the acknowledged senders in order,
    how many were refused with 409, and the status of every answer in order."""
    acked: list[str] = []
    statuses: list[int] = []
    refused = 0
    deadline = time.monotonic() + seconds
    i = 0
    with agent.client(timeout=10) as c:
        while time.monotonic() < deadline:
            sender = f"{tag}-{i}@example.com"
            i += 1
            try:
                r = c.put("/api/v1/email", json=smtp.config() | {"sender": sender})
            except httpx.HTTPError:  # an unanswered write is not acknowledged
                continue
            statuses.append(r.status_code)
            if r.status_code == 200:
                acked.append(sender)
            elif r.status_code == 409:
                refused += 1
                assert "fenced" in r.json()["detail"] or "backup" in r.json()["detail"], r.text
            else:
                raise AssertionError(r.text)
    return acked, refused, statuses


def pause_trial(primary: RunningAgent, backup: RunningAgent, smtp: SmtpSink, tag: str) -> TrialResult:
    """The pair must be in sync and watching; afterwards the roles are swapped and both are in sync again."""
    assert primary.proc is not None
    run_cli("seed", str(primary.data_dir), "--sessions", "3")
    report = sync_now(backup)
    assert report["status"] == "ok", report
    confirmed = session_ids(backup.data_dir / "site.db")
    kept_before = set(kept_files(primary))
    run_cli("seed", str(primary.data_dir), "--sessions", "2")  # diverged before the pause
    primary.proc.send_signal(signal.SIGSTOP)
    results: list[tuple[list[str], int, list[int]]] = []
    try:
        wait_until(lambda: backup.health()["role"] == "primary", timeout=60, what="the backup's takeover")
        run_cli("seed", str(primary.data_dir), "--sessions", "2")  # acknowledged while frozen
    finally:
        hammers = [threading.Thread(target=lambda n=n: results.append(hammer_email(primary, smtp, 4, f"{tag}{n}")))
                   for n in range(3)]
        with PrimaryWatch(primary, backup) as watch:
            for thread in hammers:
                thread.start()
            time.sleep(0.3)
            primary.proc.send_signal(signal.SIGCONT)
            for thread in hammers:
                thread.join(30)
            wait_until(lambda: primary.health()["role"] == "backup", timeout=20, what="the old primary to fence")
    wait_until(lambda: primary.health()["fenced"] is None, timeout=30, what="the fence lifted")
    written = session_ids(primary.data_dir / "site.db") - confirmed
    new_kept = [k for k in kept_files(primary) if k not in kept_before]
    found = session_ids(backup.data_dir / "site.db")
    for k in new_kept:
        found |= session_ids(k)
    lost = sorted(written - found)
    acked = [s for a, _, _ in results for s in a]
    if acked:
        value = next((email_sender(k) for k in new_kept if email_sender(k)), None)
        if value is None or not any(a and a[-1] == value for a, _, _ in results):
            lost.append(f"email: last acknowledged values {[a[-1] for a, _, _ in results if a]}, kept {value}")
    refused_then_acked = any(409 in st and 200 in st[st.index(409):] for _, _, st in results)
    window = (watch.both_primary[-1] - watch.both_primary[0]) if watch.both_primary else 0.0
    # Leave the pair ready for the next trial: the new backup holds a complete copy of the new primary.
    wait_until(lambda: primary.health()["primary_reachable"] is True, timeout=20, what="the new backup watching")
    report = sync_now(primary)
    assert report["status"] == "ok", report
    return TrialResult(window, len(watch.both_primary), len(written), len(acked), sum(r for _, r, _ in results),
                       lost, refused_then_acked)


def partition_trial(primary: RunningAgent, backup: RunningAgent, links: list[FaultProxy], smtp: SmtpSink,
                    tag: str) -> TrialResult:
    """Cut both ways (relays), let the backup take over, hammer writes at the old primary while it cannot know
    (all acknowledged), heal: the old primary fences within a heartbeat; every acknowledged write is kept aside.
    The window counts from the heal (before it, two primaries are unavoidable: neither side can know)."""
    run_cli("seed", str(primary.data_dir), "--sessions", "3")
    report = sync_now(backup)
    assert report["status"] == "ok", report
    confirmed = session_ids(backup.data_dir / "site.db")
    kept_before = set(kept_files(primary))
    for link in links:
        link.partition("both")
    wait_until(lambda: backup.health()["role"] == "primary", timeout=60, what="the backup's takeover")
    run_cli("seed", str(primary.data_dir), "--sessions", "2")
    results = [hammer_email(primary, smtp, 1.0, f"{tag}{n}") for n in range(2)]  # acknowledged: still primary
    with PrimaryWatch(primary, backup) as watch:
        healed = time.monotonic()
        for link in links:
            link.heal()
        hammers = [threading.Thread(target=lambda n=n: results.append(hammer_email(primary, smtp, 3, f"{tag}h{n}")))
                   for n in range(2)]
        for thread in hammers:
            thread.start()
        for thread in hammers:
            thread.join(30)
        wait_until(lambda: primary.health()["role"] == "backup", timeout=20, what="the old primary to fence")
    after_heal = [t for t in watch.both_primary if t >= healed]
    wait_until(lambda: primary.health()["fenced"] is None, timeout=30, what="the fence lifted")
    written = session_ids(primary.data_dir / "site.db") - confirmed
    new_kept = [k for k in kept_files(primary) if k not in kept_before]
    found = session_ids(backup.data_dir / "site.db")
    for k in new_kept:
        found |= session_ids(k)
    lost = sorted(written - found)
    acked = [s for a, _, _ in results for s in a]
    value = next((email_sender(k) for k in new_kept if email_sender(k)), None)
    # Every hammer's writes are sequential, and the partition-time ones all came before the heal-time ones: the
    # kept value must be the last acknowledged write of some client that wrote last.
    if acked and (value is None or not any(a and a[-1] == value for a, _, _ in results)):
        lost.append(f"email: last acknowledged values {[a[-1] for a, _, _ in results if a]}, kept {value}")
    refused_then_acked = any(409 in st and 200 in st[st.index(409):] for _, _, st in results)
    window = (after_heal[-1] - healed) if after_heal else 0.0
    wait_until(lambda: primary.health()["primary_reachable"] is True, timeout=20, what="the new backup watching")
    report = sync_now(primary)
    assert report["status"] == "ok", report
    return TrialResult(window, len(after_heal), len(written), len(acked), sum(r for _, r, _ in results),
                       lost, refused_then_acked)
