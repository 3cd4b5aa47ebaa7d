"""Synchronisation between two real agents over TLS (issue #3's Done when)."""

from __future__ import annotations

import json
import sqlite3
import time

from tests.harness import RunningAgent, SmtpSink, wait_until
from tests.integration.sync.pair import KEY, configure, establish, sync_now


def _pair(agents, **backup_settings) -> tuple[RunningAgent, RunningAgent]:  # type: ignore[no-untyped-def]
    p = agents("primary", key_hex=KEY)
    b = agents("backup", key_hex=KEY)
    configure(b, **({"first_sync_delay_s": 3600} | backup_settings))
    return p, b


def _wait_progress(backup: RunningAgent, fraction: float) -> None:
    def far_enough() -> bool:
        prog = backup.health().get("sync_progress")
        return bool(prog and prog["phase"] == "recordings" and prog["bytes_total"]
                    and prog["bytes_done"] >= fraction * prog["bytes_total"])

    wait_until(far_enough, timeout=60, interval=0.02, what=f"{fraction:.0%} of the recordings")


def _integrity(agent: RunningAgent) -> str:
    with sqlite3.connect(agent.data_dir / "site.db") as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_big_first_sync_incremental_and_kill_either_side(agents) -> None:  # type: ignore[no-untyped-def]
    p, b = _pair(agents)
    p.seed(2000, 110_000)  # 2,000 sessions and recordings, 220 MB
    establish(p, b)
    report = sync_now(b)
    assert report["status"] == "ok" and report["digest_ok"] is True, report
    d = b.digest()
    assert d == p.digest() | {"seq": d["seq"]}
    assert d["sessions"] == 2000 and d["recording_bytes"] == 220_000_000
    assert report["bytes_moved"] >= 220_000_000
    # Progress was reported while it ran: phases, amounts done and total, rate and time left, a few times a second.
    with b.client() as c:
        history = c.get("/api/v1/events", params={"after": 0, "follow": "false"}).text
    progress = [json.loads(line[6:])["data"] for line in history.splitlines()
                if line.startswith("data: ") and '"type":"sync_progress"' in line]
    assert {p_["phase"] for p_ in progress} >= {"rows", "recordings", "applying"}
    moving = [p_ for p_ in progress if p_["phase"] == "recordings" and 0 < p_["bytes_done"] < p_["bytes_total"]]
    assert moving, progress
    assert all(p_["rate_bps"] > 0 and p_["eta_s"] is not None for p_ in moving)
    assert len(progress) <= 4 * report["duration_s"] + 10, len(progress)

    # Incremental: one small change moves about that change.
    p.seed(1, 1000)
    report = sync_now(b)
    assert report["status"] == "ok" and p.digest()["sha256"] == b.digest()["sha256"]
    assert report["bytes_moved"] < 20_000, report
    assert report["rows_moved"] <= 3, report

    # kill -9 of the backup at ~40 % of the recordings: it keeps its previous complete copy...
    whole = b.digest()
    p.seed(300, 400_000)  # 120 MB more
    assert b.request("POST", "/api/v1/failover/sync").status_code == 202
    _wait_progress(b, 0.4)
    b.kill()
    b.start()
    assert b.digest() == whole
    assert _integrity(b) == "ok"
    # ...and the next sync continues without moving again what had arrived.
    report = sync_now(b)
    assert report["status"] == "ok" and report["resumed"] is True, report
    assert p.digest()["sha256"] == b.digest()["sha256"]
    assert report["bytes_moved"] < 0.75 * 120_000_000, report

    # kill -9 of the primary mid-sync: the sync fails with a reason, the backup stays whole.
    whole = b.digest()
    p.seed(300, 400_000)
    assert b.request("POST", "/api/v1/failover/sync").status_code == 202
    _wait_progress(b, 0.3)
    p.kill()
    failed = wait_until(lambda: (b.health().get("last_sync") or {}).get("status") == "failed"
                        and b.health()["last_sync_status"] != "running" and b.health()["last_sync"],
                        timeout=90, what="the sync to fail")
    assert failed["error"] and "Traceback" not in failed["error"]
    assert b.digest() == whole and _integrity(b) == "ok"
    p.start()
    report = sync_now(b)
    assert report["status"] == "ok" and report["resumed"] is True, report
    assert report["bytes_moved"] < 0.85 * 120_000_000, report
    assert p.digest()["sha256"] == b.digest()["sha256"] and _integrity(p) == "ok"


def test_email_configuration_travels_and_is_read_only_on_the_backup(agents, smtp_sink: SmtpSink) -> None:  # type: ignore[no-untyped-def]
    p, b = _pair(agents)
    establish(p, b)
    cfg = smtp_sink.config() | {"password": "pw-on-primary"}
    assert p.request("PUT", "/api/v1/email", json=cfg).status_code == 200
    assert b.get("/api/v1/email")["host"] == ""
    assert sync_now(b)["status"] == "ok"
    assert b.get("/api/v1/email") == p.get("/api/v1/email")
    assert b.get("/api/v1/email")["password_set"] is True
    r = b.request("PUT", "/api/v1/email", json=smtp_sink.config())
    assert r.status_code == 409 and "Change it on the primary" in r.json()["detail"]
    # The backup can mail with what it received (it will need to, when the primary is lost).
    assert b.request("POST", "/api/v1/email/test").json()["ok"] is True
    # Each side keeps its own failover settings.
    configure(p, pull_interval_s=111)
    assert sync_now(b)["status"] == "ok"
    assert b.get("/api/v1/failover/settings")["pull_interval_s"] != 111


def test_no_pull_alert_once_per_incident_and_resumed(agents, smtp_sink: SmtpSink) -> None:  # type: ignore[no-untyped-def]
    p, b = _pair(agents)
    assert p.request("PUT", "/api/v1/email", json=smtp_sink.config()).status_code == 200
    configure(p, no_pull_alert_s=2)
    establish(p, b)
    alert = smtp_sink.wait_for(lambda m: "No backup has pulled" in m.subject, timeout=20)
    assert "backup" in alert.body and "primary" in alert.subject
    time.sleep(2.5)
    assert sum("No backup has pulled" in s for s in smtp_sink.subjects()) == 1
    assert sync_now(b)["status"] == "ok"
    smtp_sink.wait_for(lambda m: "pulls resumed" in m.subject, timeout=20)


def test_first_sync_after_delay_then_interval_and_disable(agents) -> None:  # type: ignore[no-untyped-def]
    p, b = _pair(agents, first_sync_delay_s=2, pull_interval_s=3)
    p.seed(5, 100)
    establish(p, b)
    t0 = time.monotonic()
    wait_until(lambda: b.health()["last_sync_status"] == "ok", timeout=20, what="the first sync")
    assert time.monotonic() - t0 >= 1.5
    assert b.health()["last_sync_at"] is not None
    p.seed(1, 100)
    wait_until(lambda: b.digest()["sha256"] == p.digest()["sha256"], timeout=20, what="the interval sync")
    configure(b, sync_enabled=False)
    assert b.health()["sync_enabled"] is False and b.health()["relationship_established"] is True
    r = b.request("POST", "/api/v1/failover/sync")
    assert r.status_code == 409 and "turned off" in r.json()["detail"]
    p.seed(1, 100)
    time.sleep(4)
    assert b.digest()["sha256"] != p.digest()["sha256"]
    configure(b, sync_enabled=True)
    # Sync Now on the primary asks the backup to pull.
    assert p.request("POST", "/api/v1/failover/sync").status_code == 202
    wait_until(lambda: b.digest()["sha256"] == p.digest()["sha256"], timeout=20, what="the sync asked by the primary")
    assert p.health()["last_sync_status"] == "ok"


def test_break_clears_the_backup_and_survives_an_unreachable_peer(agents) -> None:  # type: ignore[no-untyped-def]
    p, b = _pair(agents)
    p.seed(20, 1000)
    establish(p, b)
    assert sync_now(b)["status"] == "ok"
    primary_before = p.digest()
    r = p.request("DELETE", "/api/v1/failover/relationship")
    assert r.status_code == 200 and r.json()["peer_informed"] is True, r.text
    assert p.health()["role"] == "standalone" and b.health()["role"] == "standalone"
    assert b.digest()["sessions"] == 0 and b.digest()["recording_bytes"] == 0
    assert p.digest() == primary_before
    # Again, and break from the primary while the backup is down.
    establish(p, b)
    assert sync_now(b)["status"] == "ok"
    b.kill()
    r = p.request("DELETE", "/api/v1/failover/relationship")
    assert r.status_code == 200 and r.json()["peer_informed"] is False
    assert "break it there too" in r.json()["detail"]
    assert p.health()["role"] == "standalone"
    b.start()
    assert b.health()["role"] == "backup"
    r = b.request("DELETE", "/api/v1/failover/relationship")
    assert r.status_code == 200 and "removed the site data" in r.json()["detail"]
    assert b.digest()["sessions"] == 0 and b.health()["role"] == "standalone"
