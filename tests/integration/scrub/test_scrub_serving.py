"""The scrub on serving agents: the API and its events, the throttle, a backup's repair by the next sync (after
`pa-agent verify` and after an unclean stop), a primary's damage mailed. Real agents, real SMTP."""

from __future__ import annotations

import time

import httpx

from tests.harness import RunningAgent, SmtpSink, pinned_context, run_cli, wait_until
from tests.integration.scrub.corrupt import flip_in_recording, flip_in_text, recording_ids
from tests.integration.scrub.events import events, finished, sync_after
from tests.integration.sync.pair import KEY, configure, establish, sync_now


def test_api_starts_one_scrub_reports_events_and_keeps_to_its_rate(agents) -> None:  # type: ignore[no-untyped-def]
    alpha: RunningAgent = agents("alpha")
    alpha.seed(6, 1_000_000)
    configure(alpha, verify_rate_mb_s=1)
    with httpx.Client(base_url=alpha.url, verify=pinned_context(alpha.cert_pem), timeout=10) as c:
        assert c.post("/api/v1/site/verify").status_code == 401
        assert c.get("/api/v1/site/verify", headers={"Authorization": "Bearer nope"}).status_code == 401
    r = alpha.request("POST", "/api/v1/site/verify")
    assert r.status_code == 202, r.text
    first = r.json()
    assert first["started"] is True and first["id"]
    again = alpha.request("POST", "/api/v1/site/verify")
    assert again.status_code == 202 and again.json()["id"] == first["id"] and again.json()["started"] is False
    state = alpha.get("/api/v1/site/verify")
    assert state["running"]["id"] == first["id"]
    assert alpha.health()["name"] == "alpha"  # the API answers while it reads

    done = finished(alpha, id=first["id"])
    assert done["status"] == "whole" and done["trigger"] == "api" and done["damaged_count"] == 0, done
    assert done["bytes_checked"] == 6_000_000 and done["recordings_checked"] == 6 and done["damaged"] == []
    assert done["repair"] is None and done["error"] is None
    # 6 MB at 1 MB/s: the cap holds (contention only makes it slower).
    assert done["duration_s"] >= 4.5, done
    started = [e for e in events(alpha, "verify_started") if e["id"] == first["id"]]
    assert started == [{"id": first["id"], "trigger": "api", "rows_total": done["rows_checked"],
                        "bytes_total": 6_000_000}]
    progress = [e for e in events(alpha, "verify_progress") if e["id"] == first["id"]]
    assert progress and all(set(e) == {"id", "phase", "rows_done", "rows_total", "bytes_done", "bytes_total",
                                       "damaged", "rate_bps"} for e in progress)
    moving = [e["bytes_done"] for e in progress if e["phase"] == "recordings"]
    assert moving == sorted(moving) and 0 < moving[-1] <= 6_000_000, progress
    assert len(progress) <= 2 * done["duration_s"] + 5, len(progress)  # coalesced, about one a second
    assert alpha.get("/api/v1/site/verify") == {"running": None, "last": done}
    digest = alpha.digest()
    assert digest["damaged"] == 0 and digest["verified_at"] is not None

    # A stop in the middle of a scrub is prompt and clean: the scrub ends as failed, and the next start is no
    # "unclean stop" (which would scrub again at once).
    r = alpha.request("POST", "/api/v1/site/verify")
    cut = r.json()["id"]
    wait_until(lambda: [e for e in events(alpha, "verify_progress") if e["id"] == cut], what="the second scrub")
    assert alpha.terminate(timeout=15) == 0
    alpha.start()
    ended = [e for e in events(alpha, "verify_finished") if e["id"] == cut]
    assert len(ended) == 1 and ended[0]["status"] == "failed" and "stopped" in ended[0]["error"], ended
    assert alpha.get("/api/v1/site/verify")["last"] == done
    time.sleep(2)  # the schedule decides within a second of the start (an unclean stop would start one at once)
    assert not [e for e in events(alpha, "verify_started") if e["trigger"] == "unclean stop"]
    assert alpha.get("/api/v1/site/verify")["running"] is None


def test_backup_fetches_a_damaged_recording_again(agents) -> None:  # type: ignore[no-untyped-def]
    p: RunningAgent = agents("primary", key_hex=KEY)
    b: RunningAgent = agents("backup", key_hex=KEY)
    configure(b, first_sync_delay_s=3600)
    p.seed(10, 400_000)
    establish(p, b)
    report = sync_now(b)
    assert report["status"] == "ok", report
    assert b.digest()["sha256"] == p.digest()["sha256"]

    # One bit flipped on the backup's disk while it is stopped: SQLite does not notice, the digest neither.
    configure(b, sync_enabled=False)  # so that the damage can be seen before the repair
    b.terminate()
    db = b.data_dir / "site.db"
    victim = recording_ids(db)[3]
    flip_in_recording(db, victim)
    proc = run_cli("verify", str(b.data_dir), check=False)
    assert proc.returncode == 1 and f"damaged recording_content {victim}:" in proc.stdout, proc.stdout + proc.stderr

    # The agent, started again, scrubs because verify found damage, and prepares the repair.
    b.start()
    done = finished(b, status="damaged")
    assert done["trigger"] == "requested by pa-agent verify" and done["repair"] == "refetch", done
    assert [(f["kind"], f["id"]) for f in done["damaged"]] == [("recording_content", victim)]
    damaged = b.digest()
    assert damaged["damaged"] == 1 and damaged["sha256"] != p.digest()["sha256"], damaged

    # The next sync fetches it again (and only what was damaged), checked against its SHA-256.
    before = b.health()["last_sync"]["finished_at"]
    configure(b, sync_enabled=True)
    assert b.request("POST", "/api/v1/failover/sync").status_code == 202
    report = sync_after(b, before)
    assert report["status"] == "ok" and report["digest_ok"] is True, report
    assert 400_000 <= report["bytes_moved"] < 2 * 400_000 + 200_000, report
    repaired = b.digest()
    assert repaired["damaged"] == 0 and repaired["sha256"] == p.digest()["sha256"], repaired
    proc = run_cli("verify", str(b.data_dir), check=False)  # while it serves: read-only
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unclean_stop_row_damage_repaired_and_primary_damage_mailed(  # type: ignore[no-untyped-def]
        agents, smtp_sink: SmtpSink) -> None:
    p: RunningAgent = agents("primary", key_hex=KEY)
    b: RunningAgent = agents("backup", key_hex=KEY)
    configure(b, first_sync_delay_s=3600)
    assert p.request("PUT", "/api/v1/email", json=smtp_sink.config()).status_code == 200
    p.seed(5, 100_000)
    establish(p, b)
    assert sync_now(b)["status"] == "ok"

    # kill -9, a bit flipped in a row: the restarted backup scrubs on its own and repairs by a full row copy.
    b.kill()
    flip_in_text(b.data_dir / "site.db", "User 3", 5)
    b.start()
    done = finished(b, status="damaged")
    assert done["trigger"] == "unclean stop" and done["repair"] == "refetch", done
    assert ("users", "user-3") in [(f["kind"], f["id"]) for f in done["damaged"]], done
    wait_until(lambda: b.digest()["sha256"] == p.digest()["sha256"] and b.digest()["damaged"] == 0, timeout=120,
               what="the backup's repair by the next sync")
    report = b.health()["last_sync"]
    assert report["status"] == "ok" and report["digest_ok"] is True, report
    assert run_cli("verify", str(b.data_dir), check=False).returncode == 0
    assert not [s for s in smtp_sink.subjects() if "Damaged" in s]  # a backup repairs; nobody is woken

    # The primary: damage is reported to the administrator and restored from the backup's copy (more cases in
    # test_primary_restore.py).
    p.terminate()
    victim = recording_ids(p.data_dir / "site.db")[0]
    flip_in_recording(p.data_dir / "site.db", victim)
    p.start()
    r = p.request("POST", "/api/v1/site/verify")
    assert r.status_code == 202
    done = finished(p, id=r.json()["id"])
    assert done["status"] == "damaged" and done["repair"] == "from_backup" and done["repaired_count"] == 1, done
    mail = smtp_sink.wait_for(lambda m: "Damaged site data found" in m.subject)
    assert mail.subject == "[primary] Damaged site data found and restored from the backup" and victim in mail.body, \
        (mail.subject, mail.body)
    assert p.digest()["damaged"] == 0 and p.digest()["sha256"] == b.digest()["sha256"]


def test_schedule_runs_every_interval_and_zero_turns_it_off(agents) -> None:  # type: ignore[no-untyped-def]
    alpha: RunningAgent = agents("alpha")
    alpha.seed(2, 100_000)
    configure(alpha, verify_interval_s=2)
    first = finished(alpha, trigger="schedule", timeout=60)
    second = finished(alpha, trigger="schedule", timeout=60, after=1)
    assert first["status"] == second["status"] == "whole"
    assert second["started_at"] > first["finished_at"]
    configure(alpha, verify_interval_s=0)
    count = len(events(alpha, "verify_finished"))
    time.sleep(8)  # four intervals of the old setting
    assert len(events(alpha, "verify_finished")) <= count + 1  # at most one that had started already
