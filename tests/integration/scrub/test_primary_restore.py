"""A primary's scrub finds damage and restores each item from its backup's copy, but only a copy that proves itself
against the hash the primary recorded. Real agents over TLS, real files, real SMTP."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tests.harness import RunningAgent, SmtpSink, run_cli
from tests.integration.scrub.corrupt import flip_in_recording, flip_in_text, recording_file, recording_ids
from tests.integration.scrub.events import finished
from tests.integration.sync.pair import KEY, configure, establish, sync_now


def _synced_pair(agents: Any, sessions: int = 6, recording_bytes: int = 300_000,
                 smtp_sink: SmtpSink | None = None) -> tuple[RunningAgent, RunningAgent]:
    p: RunningAgent = agents("primary", key_hex=KEY)
    b: RunningAgent = agents("backup", key_hex=KEY)
    configure(b, first_sync_delay_s=3600)
    if smtp_sink is not None:
        assert p.request("PUT", "/api/v1/email", json=smtp_sink.config()).status_code == 200
    p.seed(sessions, recording_bytes)
    establish(p, b)
    assert sync_now(b)["status"] == "ok"
    configure(b, sync_enabled=False)  # the backup's copy stays as it is while the primary is damaged and restored
    assert b.digest()["sha256"] == p.digest()["sha256"]
    return p, b


def _scrub(agent: RunningAgent) -> dict[str, Any]:
    r = agent.request("POST", "/api/v1/site/verify")
    assert r.status_code == 202, r.text
    return finished(agent, id=r.json()["id"])


def _seq_of(agent: RunningAgent, kind: str, key: str) -> int:
    with sqlite3.connect(f"file:{agent.data_dir / 'site.db'}?mode=ro", uri=True) as conn:
        return int(conn.execute(f"SELECT seq FROM {kind} WHERE id = ?", (key,)).fetchone()[0])


def _tmp_files(agent: RunningAgent) -> list[Path]:
    tmp = agent.data_dir / "site.db-recordings" / "tmp"
    return list(tmp.iterdir()) if tmp.is_dir() else []


def test_damaged_rows_and_recordings_come_back_from_the_backup(agents, smtp_sink: SmtpSink) -> None:  # type: ignore[no-untyped-def]
    p, b = _synced_pair(agents, smtp_sink=smtp_sink)
    whole = p.digest()["sha256"]
    db = p.data_dir / "site.db"
    p.terminate()
    victims = recording_ids(db)[1:3]
    good = {v: recording_file(b.data_dir / "site.db", v).read_bytes() for v in victims}
    for victim in victims:
        flip_in_recording(db, victim)
    flip_in_text(db, "User 2", 4)
    flip_in_text(db, "user-4", 0)  # in a key: the row is found on the backup by its change number, not its key
    assert run_cli("verify", str(p.data_dir), check=False).returncode == 1
    p.start()

    # `pa-agent verify` found damage, so the serving agent scrubs at once and restores from the backup.
    done = finished(p, status="damaged")
    count = done["damaged_count"]
    assert done["repair"] == "from_backup" and done["repaired_count"] == count >= 4, done["repair_detail"]
    assert ("users", "tser-4") in [(f["kind"], f["id"]) for f in done["damaged"]], done
    assert f"{count} damaged item(s) restored from the backup" in done["repair_detail"], done
    for victim in victims:
        assert recording_file(db, victim).read_bytes() == good[victim]
    after = p.digest()
    assert after["damaged"] == 0 and after["sha256"] == whole == b.digest()["sha256"], after
    proc = run_cli("verify", str(p.data_dir), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    mail = smtp_sink.wait_for(lambda m: "Damaged site data found" in m.subject)
    assert mail.subject == "[primary] Damaged site data found and restored from the backup", mail.subject
    assert "whole again" in mail.body and "check it" in mail.body, mail.body
    assert not _tmp_files(p)

    # The backup's copy did not move: a sync after the restore finds nothing to do.
    configure(b, sync_enabled=True)
    report = sync_now(b)
    assert report["status"] == "ok" and report["digest_ok"] is True and report["bytes_moved"] < 100_000, report


def test_a_copy_that_does_not_prove_itself_is_refused(agents) -> None:  # type: ignore[no-untyped-def]
    p, b = _synced_pair(agents)
    db = p.data_dir / "site.db"
    # Damaged on both appliances: the backup's bytes do not hash to the primary's SHA-256, so they are not taken.
    both = recording_ids(db)[0]
    flip_in_recording(db, both, at=100)
    flip_in_recording(b.data_dir / "site.db", both, at=200)
    # Longer on the backup than the recording is: refused without writing more than its size.
    longer = recording_ids(db)[1]
    flip_in_recording(db, longer)
    with recording_file(b.data_dir / "site.db", longer).open("ab") as f:
        f.write(b"\0" * 5_000_000)
    # Written after the last sync: the backup never had it.
    known = set(recording_ids(db))
    p.seed(2, 200_000)
    new = sorted(set(recording_ids(db)) - known)[0]
    flip_in_recording(db, new)
    damaged_bytes = {v: recording_file(db, v).read_bytes() for v in (both, longer, new)}

    done = _scrub(p)
    assert done["status"] == "damaged" and done["damaged_count"] == 3, done
    assert done["repair"] == "told" and done["repaired_count"] == 0, done
    assert "3 left damaged" in done["repair_detail"] and "holds no copy that matches" in done["repair_detail"], done
    for victim, raw in damaged_bytes.items():
        assert recording_file(db, victim).read_bytes() == raw  # nothing else put in their place
    assert p.digest()["damaged"] == 3
    assert not _tmp_files(p)
    assert run_cli("verify", str(p.data_dir), check=False).returncode == 1
    # The longer copy was cut off at the recording's size, not written whole and hashed (a backup cannot fill the
    # primary's disk).
    assert f"sent more than recording {longer}'s" in (p.data_dir / "serve.out").read_text(errors="replace")


def test_an_unreachable_backup_is_named_and_nothing_changes(agents, smtp_sink: SmtpSink) -> None:  # type: ignore[no-untyped-def]
    p, b = _synced_pair(agents, smtp_sink=smtp_sink)
    b.terminate()
    db = p.data_dir / "site.db"
    victim = recording_ids(db)[0]
    flip_in_recording(db, victim)

    done = _scrub(p)
    assert done["status"] == "damaged" and done["repair"] == "told" and done["repaired_count"] == 0, done
    assert "the backup could not be asked" in done["repair_detail"], done
    mail = smtp_sink.wait_for(lambda m: "Damaged site data found" in m.subject)
    assert mail.subject == "[primary] Damaged site data found" and victim in mail.body, mail.body
    assert "could not be asked" in mail.body, mail.body
    assert p.digest()["damaged"] == 1


def test_only_a_backup_hands_out_its_copy_and_bad_requests_are_sentences(agents) -> None:  # type: ignore[no-untyped-def]
    p, b = _synced_pair(agents, sessions=2, recording_bytes=10_000)
    from tests.security.test_peer_security import _peer_token

    token = _peer_token(b)
    sha = recording_file(b.data_dir / "site.db", recording_ids(b.data_dir / "site.db")[0]).name
    with p.client(token=token) as c:  # the primary has no one's copy to hand back
        r = c.post("/api/v1/peer/repair/rows", json={"rows": [["users", 1]]})
        assert r.status_code == 409 and "not a backup" in r.json()["detail"], r.text
    with b.client(token=token) as c:
        seq = _seq_of(b, "users", "user-1")
        r = c.post("/api/v1/peer/repair/rows", json={"rows": [["users", seq], ["users", 2**62], ["users", 0]]})
        assert r.status_code == 200, r.text
        assert [row[:2] for row in r.json()["rows"]] == [["users", seq]], r.text
        assert r.json()["rows"][0][2][0] == "user-1", r.text
        for bad in ([["passwords", 1]], [["users", "x"]], [["users", 1]] * 1001, [["users", 2**70]]):
            r = c.post("/api/v1/peer/repair/rows", json={"rows": bad})
            assert r.status_code == 422 and "detail" in r.json(), (bad[:1], r.text)
        r = c.post("/api/v1/peer/repair/rows", json={"rows": [["passwords", 1]]})
        assert "Unknown kind" in r.json()["detail"], r.text
        assert c.get(f"/api/v1/peer/repair/recordings/{sha}").content == \
            recording_file(b.data_dir / "site.db", recording_ids(b.data_dir / "site.db")[0]).read_bytes()
        r = c.get("/api/v1/peer/repair/recordings/" + "0" * 64)
        assert r.status_code == 404 and "holds no recording" in r.json()["detail"], r.text
        for bad in ("..%2F..%2Fsite.db" + "0" * 48, "Z" * 64, "0" * 63):
            r = c.get(f"/api/v1/peer/repair/recordings/{bad}")
            assert r.status_code in (404, 422) and "detail" in r.json(), (bad, r.status_code, r.text)
