"""`pa-agent verify DATA_DIR [--json]` on a store at rest: whole, a flipped bit in a recording, in a row, bad input."""

from __future__ import annotations

import json
from pathlib import Path

from tests.harness import init_agent, run_cli
from tests.integration.scrub.corrupt import flip_in_recording, flip_in_text, recording_ids


def _verify(data_dir: Path, *extra: str) -> tuple[int, str, str]:
    proc = run_cli("verify", str(data_dir), *extra, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def test_whole_then_damaged_recording_and_rows(tmp_path: Path) -> None:
    agent = init_agent(tmp_path, "alpha")
    run_cli("seed", str(agent.data_dir), "--sessions", "12", "--recording-bytes", "2500000")
    code, out, err = _verify(agent.data_dir)
    assert code == 0, out + err
    assert "whole" in out and "12 recordings" in out and "30.0 MB" in out, out
    doc = json.loads(_verify(agent.data_dir, "--json")[1])
    assert doc["status"] == "whole" and doc["damaged"] == [] and doc["bytes_checked"] == 30_000_000
    assert doc["recordings_checked"] == 12 and doc["rows_checked"] >= 12 + 12 + 5

    db = agent.data_dir / "site.db"
    victim = recording_ids(db)[5]
    flip_in_recording(db, victim, chunk=2)  # one bit of the third MiB
    code, out, err = _verify(agent.data_dir)
    assert code == 1, out + err
    lines = out.splitlines()
    assert lines[0].startswith(f"damaged recording_content {victim}: its SHA-256 differs"), out
    assert "1 damaged" in lines[-1], out

    # A row: one bit of a user's name ('User 3' becomes 'User 2'), and one that is no longer UTF-8.
    flip_in_text(db, "User 3", 5)
    flip_in_text(db, "user-4@example.com", 0)  # 'u' -> 't': still text
    code, out, _ = _verify(agent.data_dir, "--json")
    assert code == 1
    doc = json.loads(out)
    found = {(f["kind"], f["id"]) for f in doc["damaged"]}
    assert found == {("recording_content", victim), ("users", "user-3"), ("users", "user-4")}, doc
    assert doc["damaged_count"] == 3 and doc["status"] == "damaged" and doc["agent_asked_to_repair"] is True

    flip_in_text(db, "User 1", 0)  # 'U' (0x55) -> 'T'... and a byte that makes invalid UTF-8:
    raw = db.read_bytes()
    at = raw.find(b"User 5")
    assert at > 0
    with db.open("r+b") as f:
        f.seek(at + 5)
        f.write(b"\xff")
    code, out, err = _verify(agent.data_dir)
    assert code == 1 and "Traceback" not in out + err, out + err
    assert "damaged users user-5:" in out and "damaged users user-1:" in out, out


def test_bad_input_is_one_sentence(tmp_path: Path) -> None:
    code, out, err = _verify(tmp_path / "nothing-here")
    assert code == 2 and "Traceback" not in err and "no store" in err, (out, err)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "site.db").write_bytes(b"this is not a database" * 100)
    code, out, err = _verify(tmp_path / "junk")
    assert code in (1, 2) and "Traceback" not in err + out, (out, err)
    assert ("damaged store" in out) or ("site.db" in err), (out, err)
