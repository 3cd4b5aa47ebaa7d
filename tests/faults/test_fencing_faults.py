"""Issue 13 under faults, with real agents and the TCP fault relay: a one-way cut is no lost primary, a witness
keeps a cut-off backup from promoting, a takeover cancels the pull in flight, keeping aside that fails keeps the
appliance fenced, and a full disk is named and cleaned up."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pa_console.agent.store.blobs import blob_root
from tests.faults.support import EventWatcher, Pair, configure, make_pair, small_disk, store_check
from tests.harness import RunningAgent, SmtpSink, free_port, run_cli, wait_until
from tests.integration.failover.trials import partition_trial
from tests.integration.sync.pair import KEY, sync_now

TIMEOUT_S = 4.0


def _shared() -> dict[str, Any]:
    address = f"127.0.{200 + os.getpid() % 50}.{2 + int(time.monotonic() * 10) % 250}"
    return {"driver": "loopback", "address": address, "port": free_port(address)}


def _watched_pair(agents: Callable[..., RunningAgent], both_ways: bool = False, **settings: Any) -> Pair:
    shared = _shared()
    values = {"auto_failover": True, "primary_timeout_s": TIMEOUT_S, "probe_interval_s": 0.5,
              "shared_address": shared} | settings
    pair = make_pair(agents, proxy_both_ways=both_ways, **values)
    configure(pair.primary, **values)  # the same on both: after a swap the other one watches
    assert sync_now(pair.backup)["status"] == "ok"
    wait_until(lambda: pair.backup.health()["primary_reachable"] is True, timeout=20, what="the first probe")
    return pair


@pytest.mark.timeout(120)
def test_a_one_way_cut_of_the_backups_path_is_no_lost_primary(agents: Callable[..., RunningAgent]) -> None:
    pair = _watched_pair(agents)
    p, b = pair.primary, pair.backup
    try:
        pair.to_primary.stall()  # the backup's probes hang; the primary's heartbeats still arrive
        wait_until(lambda: b.health()["probes_ok"] is False, timeout=15, what="the backup's probes to fail")
        time.sleep(TIMEOUT_S + 4)
        health = b.health()
        assert health["role"] == "backup" and p.health()["role"] == "primary"
        assert health["probes_ok"] is False
        assert health["heartbeat_age_s"] is not None and health["heartbeat_age_s"] < 3
        assert health["failover_in_s"] is None
        # Control: once the heartbeats stop too (the primary is gone), the backup takes over.
        p.kill()
        wait_until(lambda: b.health()["role"] == "primary", timeout=TIMEOUT_S + 15, what="the takeover")
    finally:
        pair.stop()


@pytest.mark.timeout(120)
def test_a_witness_that_cannot_be_reached_forbids_the_takeover(agents: Callable[..., RunningAgent]) -> None:
    witness_port = free_port()
    pair = _watched_pair(agents, witness=[f"127.0.0.1:{witness_port}"])
    p, b = pair.primary, pair.backup
    server: socket.socket | None = None
    try:
        wait_until(lambda: "witness" in (b.health()["auto_takeover_blocked"] or ""), timeout=15,
                   what="the witness check to block")
        assert b.health()["witness_ok"] is False and b.health()["copy_complete"] is True
        p.kill()
        wait_until(lambda: b.health()["awaiting_manual_failover"], timeout=TIMEOUT_S + 15, what="awaiting")
        assert b.health()["role"] == "backup"
        # The witness answers (the backup is not cut off after all): the takeover happens now.
        server = socket.create_server(("127.0.0.1", witness_port))
        server.listen()
        wait_until(lambda: b.health()["role"] == "primary", timeout=20, what="the takeover")
    finally:
        if server is not None:
            server.close()
        pair.stop()


@pytest.mark.timeout(180)
def test_a_takeover_cancels_the_pull_in_flight(agents: Callable[..., RunningAgent]) -> None:
    pair = _watched_pair(agents)
    p, b = pair.primary, pair.backup
    before = b.digest()
    p.seed(400, 64 * 1024)
    seen: list[tuple[float, str, dict[str, Any]]] = []
    watcher = EventWatcher(b, lambda t, d: seen.append((time.monotonic(), t, d))).start()
    try:
        pair.to_primary.delay(0.02)  # slow enough that the pull is still running when the primary dies
        r = b.request("POST", "/api/v1/failover/sync")
        assert r.status_code == 202, r.text
        wait_until(lambda: (b.health()["sync_progress"] or {}).get("bytes_done", 0) > 0, timeout=30,
                   what="recordings moving")
        pair.to_primary.stall()  # the pull hangs, the probes hang ...
        p.kill()  # ... and the primary is gone: no heartbeats either
        wait_until(lambda: b.health()["role"] == "primary", timeout=TIMEOUT_S + 20, what="the takeover")
        wait_until(lambda: any(t in ("sync_failed", "sync_finished") for _, t, _ in seen), timeout=20,
                   what="the pull's end")
        time.sleep(1)
    finally:
        watcher.stop()
        pair.stop()
    took = next(at for at, t, d in seen if t == "role_changed" and d.get("role") == "primary")
    after = [(t, d) for at, t, d in seen if at >= took and t in ("sync_finished", "sync_failed")]
    assert all(t == "sync_failed" for t, _ in after), after
    ends = [d for _, t, d in seen if t in ("sync_finished", "sync_failed")]
    assert ends and ends[-1]["status"] == "failed" and "takeover" in ends[-1]["error"], ends[-1]
    assert b.digest()["sha256"] == before["sha256"]  # the copy it had: nothing of the cancelled pull applied
    assert store_check(b) == []


@pytest.mark.timeout(240)
def test_writes_acknowledged_during_a_partition_are_kept_aside_and_the_heal_fences_at_once(
        agents: Callable[..., RunningAgent], smtp_sink: SmtpSink) -> None:
    pair = _watched_pair(agents, both_ways=True)
    assert pair.to_backup is not None
    links = [pair.to_primary, pair.to_backup]
    try:
        first = partition_trial(pair.primary, pair.backup, links, smtp_sink, "a")
        second = partition_trial(pair.backup, pair.primary, links, smtp_sink, "b")
    finally:
        pair.stop()
    for trial in (first, second):
        print(f"\n{trial}")
        assert trial.lost == [] and not trial.refused_then_acked, trial
        assert trial.acked_writes > 0 and trial.acked_sessions >= 2, trial  # writes the old primary did take
        assert trial.window_s <= 0.5 + 2, trial


@pytest.mark.timeout(150)
def test_keeping_aside_that_fails_keeps_the_appliance_fenced_and_untouched(
        agents: Callable[..., RunningAgent]) -> None:
    pair = _watched_pair(agents, both_ways=True)
    p, b = pair.primary, pair.backup
    assert pair.to_backup is not None
    try:
        pair.to_primary.partition("both")
        pair.to_backup.partition("both")
        wait_until(lambda: b.health()["role"] == "primary", timeout=TIMEOUT_S + 15, what="the takeover")
        p.seed(6)
        sessions = p.digest()["sessions"]
        # Keeping aside will fail: a file stands where the split-brain folder must be made.
        (p.data_dir / "split-brain").write_text("in the way")
        pair.to_primary.heal()
        pair.to_backup.heal()
        wait_until(lambda: (p.health()["fenced"] or "").startswith("FENCED"), timeout=20, what="loud fence")
        assert p.health()["role"] == "backup" and p.health()["serving_shared_address"] is False
        r = p.request("PUT", "/api/v1/email", json={"host": "x", "port": 25, "security": "none", "username": "",
                                                    "sender": "a@example.com", "recipients": ["b@example.com"]})
        assert r.status_code == 409 and "fenced" in r.json()["detail"], r.text
        # No sync overwrites it while it is fenced.
        report = sync_now(p)
        assert report["status"] == "failed" and "FENCED" in report["error"], report
        assert p.digest()["sessions"] == sessions
        # The administrator decides: breaking the relationship here keeps every bit of its data.
        r = p.request("DELETE", "/api/v1/failover/relationship")
        assert r.status_code == 200, r.text
        assert p.health()["role"] == "standalone" and p.health()["fenced"] is None
        assert p.digest()["sessions"] == sessions
    finally:
        pair.stop()



def _backup_on(disk: Path) -> RunningAgent:
    key = disk.parent / "small.key"
    key.write_text(KEY)
    run_cli("init", str(disk / "backup"), "--name", "backup", "--key-file", str(key))
    agent = RunningAgent(data_dir=disk / "backup", name="backup")
    agent.load_identity()
    return agent.start()


def _staged_rows(db: Path) -> int:
    """Rows staged, plus recording files a sync wrote that no site row references (partial or complete)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = sum(int(conn.execute(f"SELECT COUNT(*) FROM stage_{k}").fetchone()[0])
                   for k in ("sessions", "recordings", "users", "site_settings"))
        live = {str(r[0]) for r in conn.execute("SELECT sha256 FROM recordings")}
    root = blob_root(db)
    files = [p for p in (root / "partial").glob("*")] + [p for p in (root / "by-sha256").glob("*")
                                                         if p.name not in live]
    return rows + len(files)


@pytest.mark.timeout(180)
def test_a_full_disk_is_named_and_what_was_staged_is_freed(agents: Callable[..., RunningAgent],
                                                           tmp_path: Path) -> None:
    with small_disk(tmp_path / "small", 64) as disk:
        b = _backup_on(disk)
        try:
            p = agents("primary", key_hex=KEY)
            configure(b, first_sync_delay_s=3600, pull_interval_s=3600)
            r = p.request("POST", "/api/v1/failover/relationship", json={
                "backup": {"host": "127.0.0.1", "port": b.port}, "reverse": {"host": "127.0.0.1", "port": p.port}})
            assert r.status_code == 201, r.text
            p.seed(12, 1024 * 1024)  # ~12 MiB: fits
            assert sync_now(b)["status"] == "ok"
            p.seed(40, 1024 * 1024)  # ~40 MiB more: an incremental sync that cannot fit
            report = sync_now(b)
            print(f"\nfull disk: {report['error']}")
            assert report["status"] == "failed", report
            assert "too little space" in report["error"] and str(disk) in report["error"], report
            assert "needs about" in report["error"] and "free" in report["error"], report
            assert _staged_rows(b.data_dir / "site.db") == 0
            assert store_check(b) == []
            assert b.digest()["sessions"] == 12  # the previous copy, whole
            wal = b.data_dir / "site.db-wal"
            assert not wal.exists() or wal.stat().st_size < 1024 * 1024  # its space given back
        finally:
            b.kill()
            (tmp_path / "backup-small.out").write_text(b.output())
    # A first (full) copy that cannot fit is refused before anything is copied.
    with small_disk(tmp_path / "tiny", 24) as disk:
        b = _backup_on(disk)
        try:
            configure(b, first_sync_delay_s=3600, pull_interval_s=3600)
            r = p.request("DELETE", "/api/v1/failover/relationship")
            assert r.status_code == 200, r.text
            r = p.request("POST", "/api/v1/failover/relationship", json={
                "backup": {"host": "127.0.0.1", "port": b.port}, "reverse": {"host": "127.0.0.1", "port": p.port}})
            assert r.status_code == 201, r.text
            report = sync_now(b)
            print(f"first copy too large: {report['error']}")
            assert report["status"] == "failed" and "does not fit" in report["error"], report
            assert "needs about" in report["error"] and report["bytes_moved"] < 1024 * 1024, report
        finally:
            b.kill()

