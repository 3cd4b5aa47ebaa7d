"""Issue 13 with real agents: no takeover without a complete copy, fence first, keep aside exactly what diverged,
a refusing primary is never taken over, and a break keeps the site up."""

from __future__ import annotations

import signal
import threading
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.harness import RunningAgent, SmtpSink, run_cli, wait_until
from tests.integration.failover.helpers import Pair, PrimaryWatch, events, make_pair, of_type, roles
from tests.integration.sync.pair import sync_now


def session_ids(db: Path) -> set[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM sessions")}


def email_sender(db: Path) -> str | None:
    import json

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
            except Exception:
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


@pytest.mark.timeout(120)
def test_a_never_synced_backup_does_not_take_over_and_says_so(agents: Callable[..., RunningAgent],
                                                             smtp_sink: SmtpSink) -> None:
    pair = make_pair(agents, smtp_sink, synced=False, primary_timeout_s=3)
    alpha, beta = pair.primary, pair.backup
    alpha.seed(100)
    health = beta.health()
    assert health["copy_complete"] is False and "never completed a sync" in health["copy_detail"]
    assert "never completed a sync" in str(health["auto_takeover_blocked"])
    before = events(beta)[-1]["id"]
    assert alpha.proc is not None
    alpha.proc.send_signal(signal.SIGSTOP)
    try:
        wait_until(lambda: beta.health()["awaiting_manual_failover"], timeout=20, what="awaiting manual failover")
        time.sleep(1.5)
        assert roles(beta) == ["backup"]
        mail = smtp_sink.wait_for(lambda m: "manual failover needed" in m.subject, timeout=10)
        assert "never completed a sync" in mail.body
        evs = events(beta, after=before)
        assert "never completed a sync" in of_type(evs, "primary_lost")[0]["data"]["takeover_blocked"]
        assert "never completed a sync" in of_type(evs, "awaiting_manual_failover")[0]["data"]["reason"]
        assert not of_type(evs, "takeover")
    finally:
        alpha.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: beta.health()["primary_reachable"] is True, timeout=15, what="the primary back")
    assert roles(alpha, beta) == ["primary", "backup"] and alpha.digest()["sessions"] == 100
    assert pair.wait_site("alpha")

    # A forced takeover stays possible and says what the site will then hold.
    alpha.kill()
    r = beta.request("POST", "/api/v1/failover/role", json={"role": "primary", "force": True})
    assert r.status_code == 200, r.text
    assert "0 sessions" in r.json()["detail"] and "never completed a sync" in r.json()["detail"], r.text


@pytest.mark.timeout(180)
def test_a_paused_primary_fences_first_and_no_acknowledged_write_is_lost(agents: Callable[..., RunningAgent],
                                                                         smtp_sink: SmtpSink) -> None:
    probe_s = 0.5
    pair = make_pair(agents, smtp_sink, primary_timeout_s=4, probe_interval_s=probe_s)
    alpha, beta = pair.primary, pair.backup
    alpha.seed(200)
    assert sync_now(beta)["status"] == "ok"
    confirmed = session_ids(beta.data_dir / "site.db")
    alpha.seed(5)  # written on the primary, never pulled: diverged before the pause
    written_on_alpha = session_ids(alpha.data_dir / "site.db") - confirmed
    assert len(written_on_alpha) == 5
    assert alpha.proc is not None
    alpha.proc.send_signal(signal.SIGSTOP)
    try:
        wait_until(lambda: beta.health()["role"] == "primary", timeout=30, what="the backup's takeover")
        # Writes acknowledged on the old primary while it is frozen (straight into its store, as a script would).
        run_cli("seed", str(alpha.data_dir), "--sessions", "3")
    finally:
        # Writes hammered from several clients, the first ones sent while it is still frozen (they wait in its
        # socket and race its first heartbeat when it runs again).
        results: list[tuple[list[str], int, list[int]]] = []
        hammers = [threading.Thread(target=lambda n=n: results.append(hammer_email(alpha, smtp_sink, 5, f"t{n}")))
                   for n in range(3)]
        with PrimaryWatch(alpha, beta) as watch:
            for thread in hammers:
                thread.start()
            time.sleep(0.5)
            alpha.proc.send_signal(signal.SIGCONT)
            for thread in hammers:
                thread.join(30)
            wait_until(lambda: alpha.health()["role"] == "backup", timeout=15, what="the old primary to fence")
            time.sleep(1)
    acked = [sender for a, _, _ in results for sender in a]
    refused = sum(r for _, r, _ in results)
    written_on_alpha |= session_ids(alpha.data_dir / "site.db") - confirmed
    assert len(written_on_alpha) == 8
    print(f"\nacknowledged writes after SIGCONT: {len(acked)}, refused: {refused}; "
          f"two primaries seen at {len(watch.both_primary)} samples")
    assert acked or refused, "no write was answered at all"
    # Once refused, always refused: no write is acknowledged after the fence (each client's answers in order).
    for _, _, statuses in results:
        if 409 in statuses:
            assert 200 not in statuses[statuses.index(409):], statuses
    window = (watch.both_primary[-1] - watch.both_primary[0]) if watch.both_primary else 0.0
    assert window <= probe_s + 2, f"two primaries for {window:.2f} s"

    wait_until(lambda: alpha.health()["fenced"] is None, timeout=20, what="the fence lifted (data kept aside)")
    kept = kept_files(alpha)
    assert len(kept) == 1, kept
    # Every acknowledged write is in the survivor's data or kept aside: the sessions (distinct rows) ...
    survivor = session_ids(beta.data_dir / "site.db")
    assert written_on_alpha <= session_ids(kept[0]) | survivor
    # ... and the email setting: each write replaced the one before, so what is kept is one acknowledged value,
    # the last of its client's acknowledged ones.
    if acked:
        value = email_sender(kept[0])
        assert value in acked and any(a and a[-1] == value for a, _, _ in results), (value, acked)
    # Only what diverged: not the 200 sessions the backup had confirmed.
    assert session_ids(kept[0]).isdisjoint(confirmed)
    demoted = of_type(events(alpha), "demoted")[-1]["data"]
    assert demoted["kept"] == str(kept[0]) and demoted["diverged"]["sessions"] == 8
    # The old primary then syncs from the new one (its live copy replaced, what diverged safe aside).
    wait_until(lambda: alpha.health()["primary_reachable"] is True, timeout=15, what="alpha watching beta")
    assert sync_now(alpha)["status"] == "ok"
    assert alpha.digest()["sha256"] == beta.digest()["sha256"]


@pytest.mark.timeout(120)
def test_a_failback_with_nothing_diverged_keeps_nothing(agents: Callable[..., RunningAgent],
                                                         smtp_sink: SmtpSink) -> None:
    pair = make_pair(agents, smtp_sink, primary_timeout_s=60, auto_failover=False)
    alpha, beta = pair.primary, pair.backup
    alpha.seed(50)
    assert sync_now(beta)["status"] == "ok"
    r = beta.request("POST", "/api/v1/failover/role", json={"role": "primary", "sync_first": True})
    assert r.status_code == 200, r.text
    wait_until(lambda: alpha.health()["role"] == "backup" and alpha.health()["fenced"] is None, timeout=15,
               what="alpha a backup, unfenced")
    assert kept_files(alpha) == []
    evs = events(alpha)
    assert not of_type(evs, "split_brain_data_kept")
    assert "kept aside" not in " ".join(str(e["data"]) for e in evs)


def _pair_named(agents: Callable[..., RunningAgent], smtp: SmtpSink, tmp_path: Path, name: str) -> Pair:
    from tests.harness import RunningAgent as Agent
    from tests.integration.failover.helpers import new_shared_address
    from tests.integration.sync.pair import KEY, configure, establish

    key = tmp_path / "odd.key"
    key.write_text(KEY)
    data_dir = tmp_path / "odd"
    run_cli("init", str(data_dir), "--name", name, "--key-file", str(key))
    alpha = Agent(data_dir=data_dir, name=name)
    alpha.load_identity()
    alpha.start()
    beta = agents("beta", key_hex=KEY)
    shared = new_shared_address()
    for agent in (alpha, beta):
        configure(agent, primary_timeout_s=60, probe_interval_s=0.5, auto_failover=False, shared_address=shared,
                  first_sync_delay_s=3600)
        assert agent.request("PUT", "/api/v1/email", json=smtp.config()).status_code == 200
    establish(alpha, beta)
    assert sync_now(beta)["status"] == "ok"
    return Pair(alpha, beta, shared, smtp)


@pytest.mark.timeout(120)
def test_keeping_aside_works_for_a_name_with_a_slash(agents: Callable[..., RunningAgent], smtp_sink: SmtpSink,
                                                     tmp_path: Path) -> None:
    pair = _pair_named(agents, smtp_sink, tmp_path, "dc1/pa-a")
    alpha, beta = pair.primary, pair.backup
    try:
        alpha.kill()
        r = beta.request("POST", "/api/v1/failover/role", json={"role": "primary", "force": True})
        assert r.status_code == 200, r.text
        run_cli("seed", str(alpha.data_dir), "--sessions", "4")
        alpha.start()
        wait_until(lambda: alpha.health()["role"] == "backup" and alpha.health()["fenced"] is None, timeout=20,
                   what="the old primary fenced, its data kept")
        kept = kept_files(alpha)
        assert len(kept) == 1 and "dc1_pa-a" in kept[0].name, kept
        assert len(session_ids(kept[0])) == 4
    finally:
        alpha.kill()


@pytest.mark.timeout(120)
def test_a_broken_pair_keeps_the_site_up_and_the_backup_never_takes_over(agents: Callable[..., RunningAgent],
                                                                         smtp_sink: SmtpSink) -> None:
    pair = make_pair(agents, smtp_sink, primary_timeout_s=3)
    alpha, beta = pair.primary, pair.backup
    beta.kill()
    r = alpha.request("DELETE", "/api/v1/failover/relationship")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["peer_informed"] is False and "keeps serving the shared address" in body["shared_address"]
    assert body["shared_address"] in body["detail"]
    time.sleep(1.5)
    assert alpha.health()["role"] == "standalone" and alpha.health()["serving_shared_address"] is True
    assert (pair.site() or {}).get("name") == "alpha"

    # The backup comes back: its primary answers but refuses the old relationship. That is no lost primary.
    beta.start()
    wait_until(lambda: beta.health()["primary_refused"], timeout=15, what="the backup to see the refusal")
    time.sleep(3 + 4)  # well past the timeout
    assert roles(alpha, beta) == ["standalone", "backup"]
    assert (pair.site() or {}).get("name") == "alpha"
    health = beta.health()
    assert "no longer recognises" in health["primary_refused"] and "Break" in health["primary_refused"]
    refused = of_type(events(beta), "primary_refused")
    assert refused and refused[0]["data"]["refused"] is True
    assert not of_type(events(beta), "takeover")
    smtp_sink.wait_for(lambda m: "refuses the relationship" in m.subject, timeout=10)
