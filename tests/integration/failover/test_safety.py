"""Issue 13 with real agents: no takeover without a complete copy, fence first, keep aside exactly what diverged,
a refusing primary is never taken over, and a break keeps the site up."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import RunningAgent, SmtpSink, pinned_context, run_cli, wait_until
from tests.integration.failover.helpers import Pair, PrimaryWatch, events, make_pair, of_type, roles
from tests.integration.failover.trials import kept_files, pause_trial, session_ids
from tests.integration.sync.pair import sync_now


@pytest.mark.timeout(120)
def test_a_never_synced_backup_does_not_take_over_and_says_so(agents: Callable[..., RunningAgent],
                                                             smtp_sink: SmtpSink) -> None:
    pair = make_pair(agents, smtp_sink, synced=False, primary_timeout_s=3)
    alpha, beta = pair.primary, pair.backup
    alpha.seed(100)
    health = beta.health()
    assert health["copy_complete"] is False and "never completed a sync" in health["copy_detail"]
    assert "never completed a sync" in str(health["auto_takeover_blocked"])
    blocked = of_type(events(beta), "takeover_blocked")
    assert blocked and blocked[-1]["data"]["blocked"] is True and "never completed" in blocked[-1]["data"]["reason"]
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


@pytest.mark.timeout(240)
def test_a_paused_primary_fences_first_and_no_acknowledged_write_is_lost(agents: Callable[..., RunningAgent],
                                                                         smtp_sink: SmtpSink) -> None:
    """SIGSTOP past the timeout, writes acknowledged while frozen, SIGCONT under a hammer of writes from three
    clients: every acknowledged write is in the survivor or kept aside, and two primaries are seen in `health` for
    at most one probe interval + 2 s. Twice, so that the failback (the other way round) is tried too."""
    probe_s = 0.5
    pair = make_pair(agents, smtp_sink, primary_timeout_s=4, probe_interval_s=probe_s)
    pair.primary.seed(200)
    first = pause_trial(pair.primary, pair.backup, smtp_sink, "a")
    second = pause_trial(pair.backup, pair.primary, smtp_sink, "b")
    for trial in (first, second):
        print(f"\n{trial}")
        assert trial.lost == [] and not trial.refused_then_acked, trial
        assert trial.acked_sessions == 4, trial  # 2 before the pause + 2 while frozen, kept aside
        assert trial.acked_writes or trial.refused_writes, "no write was answered at all"
        assert trial.window_s <= probe_s + 2, trial
    alpha, beta = pair.primary, pair.backup
    assert roles(alpha, beta) == ["primary", "backup"]
    demoted = of_type(events(alpha), "demoted")[-1]["data"]
    assert demoted["kept"] and demoted["diverged"]["sessions"] == 4
    # Only what diverged was kept: never the 200 sessions both had.
    for kept in kept_files(alpha) + kept_files(beta):
        assert len(session_ids(kept)) == 4
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
    # And back, asked on the primary this time (it steps down after the backup's last sync).
    beta.seed(5)
    r = beta.request("POST", "/api/v1/failover/role", json={"role": "backup", "sync_first": True})
    assert r.status_code == 200, r.text
    wait_until(lambda: beta.health()["role"] == "backup" and beta.health()["fenced"] is None, timeout=15,
               what="beta a backup, unfenced")
    assert kept_files(beta) == [] and not of_type(events(beta), "split_brain_data_kept")
    assert roles(alpha, beta) == ["primary", "backup"]


def _pair_named(agents: Callable[..., RunningAgent], smtp: SmtpSink, tmp_path: Path, name: str) -> Pair:
    from tests.harness import RunningAgent as Agent
    from tests.integration.failover.helpers import new_shared_address
    from tests.integration.sync.pair import KEY, configure, establish

    key = tmp_path / "odd.key"
    key.write_text(KEY)
    data_dir = tmp_path / "odd"
    run_cli("init", str(data_dir), "--name", "placeholder", "--key-file", str(key))
    # `init` now refuses such names; an appliance named by an older version still has one and still serves.
    identity = data_dir / "identity.json"
    doc = json.loads(identity.read_text())
    identity.write_text(json.dumps(doc | {"name": name}))
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


@pytest.mark.timeout(240)
def test_the_two_primary_window_does_not_grow_with_what_diverged(agents: Callable[..., RunningAgent],
                                                                 smtp_sink: SmtpSink) -> None:
    """The fence is one short transaction; keeping aside (proportional to what diverged) comes after it."""
    probe_s = 0.5
    pair = make_pair(agents, smtp_sink, primary_timeout_s=4, probe_interval_s=probe_s)
    alpha, beta = pair.primary, pair.backup
    assert alpha.proc is not None
    alpha.proc.send_signal(signal.SIGSTOP)
    try:
        wait_until(lambda: beta.health()["role"] == "primary", timeout=30, what="the backup's takeover")
        run_cli("seed", str(alpha.data_dir), "--sessions", "20000", "--recording-bytes", "0", timeout=300)
        run_cli("seed", str(alpha.data_dir), "--sessions", "24", "--recording-bytes", str(1024 * 1024))
    finally:
        with PrimaryWatch(alpha, beta) as watch:
            alpha.proc.send_signal(signal.SIGCONT)
            wait_until(lambda: alpha.health()["role"] == "backup", timeout=20, what="the old primary to fence")
            time.sleep(1)
    window = (watch.both_primary[-1] - watch.both_primary[0]) if watch.both_primary else 0.0
    print(f"\ntwo primaries seen for {window:.2f} s ({len(watch.both_primary)} samples) with 20,024 sessions and "
          "24 MiB of recordings diverged")
    assert window <= probe_s + 2
    wait_until(lambda: alpha.health()["fenced"] is None, timeout=120, what="the diverged data kept aside")
    kept = kept_files(alpha)
    assert len(kept) == 1 and len(session_ids(kept[0])) == 20024


def _writes_queued_while_frozen(alpha: RunningAgent, beta: RunningAgent, smtp: SmtpSink) -> list[int | str]:
    """Six writes sent to `alpha` while it is frozen past `beta`'s takeover, on connections opened before; their
    answers (status or error) once it runs again."""
    assert alpha.proc is not None
    answers: list[int | str] = []
    clients = [httpx.Client(base_url=alpha.url, verify=pinned_context(alpha.cert_pem), timeout=30,
                            headers={"Authorization": f"Bearer {alpha.token}"}) for _ in range(6)]
    for c in clients:  # connected and TLS done before the freeze: the writes wait only for the process
        assert c.get("/api/v1/email").status_code == 200

    def put(c: httpx.Client, n: int) -> None:
        try:
            answers.append(c.put("/api/v1/email", json=smtp.config() | {"sender": f"q{n}@example.com"}).status_code)
        except httpx.HTTPError as exc:
            answers.append(type(exc).__name__)

    threads = [threading.Thread(target=put, args=(c, n)) for n, c in enumerate(clients)]
    alpha.proc.send_signal(signal.SIGSTOP)
    try:
        wait_until(lambda: beta.health()["role"] == "primary", timeout=60, what="the backup's takeover")
        for t in threads:
            t.start()
        time.sleep(1.0)  # the requests are in alpha's socket buffers
    finally:
        alpha.proc.send_signal(signal.SIGCONT)
    for t in threads:
        t.join(40)
    for c in clients:
        c.close()
    return answers


@pytest.mark.timeout(180)
def test_writes_queued_while_frozen_are_not_acknowledged_by_the_replaced_primary(
        agents: Callable[..., RunningAgent], smtp_sink: SmtpSink) -> None:
    """Writes sent to a primary while it is frozen (SIGSTOP) past the takeover wait in the kernel; on SIGCONT they
    are served before the heartbeat loop would learn it was replaced. The pause guard asks the backup first, so
    every one of them is refused (the old primary fences) and no appliance keeps any of them. Twice, the second
    time the other way round: the guard is armed on every primary."""
    pair = make_pair(agents, smtp_sink, primary_timeout_s=3, probe_interval_s=0.5)
    for old, new in ((pair.primary, pair.backup), (pair.backup, pair.primary)):
        answers = _writes_queued_while_frozen(old, new, smtp_sink)
        assert len(answers) == 6 and 200 not in answers, answers
        wait_until(lambda o=old: o.health()["role"] == "backup", timeout=20, what="the old primary to fence")
        wait_until(lambda o=old: o.health()["fenced"] is None, timeout=60, what="the fence lifted")
        senders = [old.get("/api/v1/email")["sender"], new.get("/api/v1/email")["sender"]]
        assert not [s for s in senders if s.startswith("q")], senders
        wait_until(lambda o=old: o.health()["primary_reachable"] is True, timeout=30, what="the new backup watching")
        assert sync_now(old)["status"] == "ok"
