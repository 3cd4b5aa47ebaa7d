"""`pa-agent init` refuses bad names and key files, and `serve` refuses a damaged store or identity, each with one
sentence that says what to do (issue 14, points 4 and 5). Real CLI processes."""

from __future__ import annotations

import os
import secrets
import sqlite3
from pathlib import Path

import pytest

from tests.harness import init_agent, run_cli


def _one_sentence(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith("pa-agent: ") and len(lines[0]) < 600, lines[0]
    return lines[0]


INIT_CASES = [
    (["--name", "evil\r\nBcc: x@evil.com"], "only letters"),
    (["--name", "x" * 100_000], "1 to 63"),
    (["--name", "../../etc"], "only letters"),
    (["--name", ""], "1 to 63"),
    (["--key-file", "/dev/zero"], "not a regular file"),
    (["--key-file", "{tmp}/nul.key"], "printable ASCII"),
    (["--key-file", "{tmp}/same.key"], "not random enough"),
    (["--key-file", "{tmp}/huge.key"], "larger than 4096 bytes"),
    (["--key-file", "{tmp}"], "not a regular file"),
    # Found by probing: a non-ASCII name was a traceback, the others made certificates no client could match.
    (["--san", "é.example"], "neither a host name nor an IP address"),
    (["--san", "bad name"], "neither a host name nor an IP address"),
    (["--san", "192.0.2.1/24"], "neither a host name nor an IP address"),
    (["--san", ""], "neither a host name nor an IP address"),
]


@pytest.mark.parametrize(("args", "says"), INIT_CASES, ids=[" ".join(a)[:30] for a, _ in INIT_CASES])
def test_init_refuses_bad_input_in_one_sentence(tmp_path: Path, args: list[str], says: str) -> None:
    (tmp_path / "nul.key").write_bytes(b"\x00" * 40)
    (tmp_path / "same.key").write_text("7" * 64)
    (tmp_path / "huge.key").write_text(secrets.token_hex(4096))
    target = tmp_path / "appliance"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--name" not in args:
        args += ["--name", "appliance"]
    proc = run_cli("init", str(target), *args, check=False, timeout=60)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert says in _one_sentence(proc.stderr)
    assert not target.exists()


def test_init_takes_a_good_name_and_key_file(tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_text(secrets.token_hex(32) + "\n")
    proc = run_cli("init", str(tmp_path / "a"), "--name", "Site A-1", "--key-file", str(key), timeout=60)
    assert "Created appliance 'Site A-1'" in proc.stdout


def _corrupt_header(db: Path) -> None:
    with open(db, "r+b") as fh:
        fh.write(os.urandom(100))


def _corrupt_schema(db: Path) -> None:
    # Page 1 holds sqlite_master: garble it past the 100-byte file header.
    with open(db, "r+b") as fh:
        fh.seek(100)
        fh.write(b"\xff" * 4000)


@pytest.mark.parametrize("damage", [_corrupt_header, _corrupt_schema], ids=["header", "schema page"])
def test_serve_on_a_damaged_store_exits_with_one_sentence(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    agent = init_agent(tmp_path, "damaged")
    db = agent.data_dir / "site.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    damage(db)
    proc = run_cli("serve", str(agent.data_dir), "--listen", "127.0.0.1:0", check=False, timeout=60)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    line = _one_sentence(proc.stderr)
    assert "is damaged" in line and "restore it from a backup" in line, line


def test_serve_on_a_damaged_identity_exits_with_one_sentence(tmp_path: Path) -> None:
    agent = init_agent(tmp_path, "damaged-id")
    (agent.data_dir / "identity.json").write_text("{not json")
    proc = run_cli("serve", str(agent.data_dir), "--listen", "127.0.0.1:0", check=False, timeout=60)
    assert proc.returncode == 2
    assert "is damaged" in _one_sentence(proc.stderr)
