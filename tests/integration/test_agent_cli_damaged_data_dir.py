"""Every `pa-agent` command that opens DATA_DIR, over each way an administrator may find it damaged: one sentence that
says what to do, a non-zero exit, never a traceback. Real CLI processes.

Found by probing: `status` and `seed` printed a sqlite3 traceback for a damaged store or a read-only folder; a missing
tls/key.pem or inter-appliance.key said only "No such file or directory"; a garbled key.pem said "[SSL] PEM lib";
an empty inter-appliance.key was served (an empty HMAC key, which anyone can prove)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.harness import init_agent, run_cli
from tests.integration.test_agent_cli_validation import _one_sentence


def _garble_store(d: Path) -> None:
    (d / "site.db").write_bytes(os.urandom(8192))
    for extra in ("site.db-wal", "site.db-shm"):
        (d / extra).unlink(missing_ok=True)


DAMAGE: dict[str, tuple[Callable[[Path], None], str, tuple[str, ...]]] = {
    # name: (damage, what the sentence must say, the commands that must refuse)
    "store garbled": (_garble_store, "is damaged", ("serve", "status", "seed")),
    "key.pem missing": (lambda d: (d / "tls" / "key.pem").unlink(), "tls/key.pem is missing", ("serve", "seed")),
    "cert.pem missing": (lambda d: (d / "tls" / "cert.pem").unlink(), "tls/cert.pem is missing",
                         ("serve", "status", "info", "seed")),
    "key.pem garbled": (lambda d: (d / "tls" / "key.pem").write_text("garbage\n"), "cannot be loaded", ("serve",)),
    "inter-appliance.key missing": (lambda d: (d / "inter-appliance.key").unlink(), "inter-appliance.key is missing",
                                    ("serve", "seed")),
    "inter-appliance.key empty": (lambda d: (d / "inter-appliance.key").write_text(""), "too short",
                                  ("serve", "seed")),
    "inter-appliance.key NUL bytes": (lambda d: (d / "inter-appliance.key").write_bytes(b"\0" * 64),
                                      "printable ASCII", ("serve",)),
}
ARGS = {"serve": ["--listen", "127.0.0.1:0"], "status": [], "info": [], "seed": ["--sessions", "1"]}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_data_dir_is_one_sentence_for_every_command(tmp_path: Path, damage: str) -> None:
    agent = init_agent(tmp_path, "damaged")
    do, says, commands = DAMAGE[damage]
    do(agent.data_dir)
    for command in commands:
        proc = run_cli(command, str(agent.data_dir), *ARGS[command], check=False, timeout=60)
        assert proc.returncode != 0, (command, proc.stdout, proc.stderr)
        line = _one_sentence(proc.stderr)
        assert says in line, (command, line)
        assert line.rstrip().endswith("."), line


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only tmpfs needs root")
def test_a_read_only_data_dir_is_one_sentence(tmp_path: Path) -> None:
    agent = init_agent(tmp_path, "ro")
    mount = tmp_path / "ro-mount"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], check=True)
    try:
        subprocess.run(["cp", "-a", str(agent.data_dir), str(mount)], check=True)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        data_dir = str(mount / agent.data_dir.name)
        for command in ("serve", "status", "seed"):
            proc = run_cli(command, data_dir, *ARGS[command], check=False, timeout=60)
            assert proc.returncode != 0, (command, proc.stdout, proc.stderr)
            line = _one_sentence(proc.stderr)
            assert "read-only" in line.lower() or "writable" in line, (command, line)
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_the_log_and_everything_serve_creates_is_private(tmp_path: Path) -> None:
    agent = init_agent(tmp_path, "private")
    log = agent.data_dir / "agent.log"
    log.touch()
    os.chmod(log, 0o644)  # as an agent before this fix left it
    agent.start()
    try:
        agent.request("PUT", "/api/v1/failover/settings", json={"pull_interval_s": 300})
        listen = agent.data_dir / "listen.json"
        for path in (log, listen):
            mode = path.stat().st_mode & 0o777
            assert mode & 0o077 == 0, (path, oct(mode))
    finally:
        agent.kill()


@pytest.mark.parametrize(("args", "says"), [
    (["--sessions", str(10**20)], "demo sessions; give fewer"),
    (["--sessions", "1000", "--recording-bytes", str(10**15)], "give fewer sessions or smaller recordings"),
])
def test_seed_refuses_what_would_fill_the_disk_before_writing(tmp_path: Path, args: list[str], says: str) -> None:
    # Found by probing: --sessions 10**20 wrote 1.3 GB in ten minutes and went on.
    agent = init_agent(tmp_path, "seeded")
    size = (agent.data_dir / "site.db").stat().st_size
    proc = run_cli("seed", str(agent.data_dir), *args, check=False, timeout=60)
    assert proc.returncode == 2 and says in _one_sentence(proc.stderr), (proc.stdout, proc.stderr)
    assert (agent.data_dir / "site.db").stat().st_size == size


def test_a_second_serve_of_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    """Found by probing: a second `serve` ran beside the first on the same store (two failover monitors and sync
    engines), and when stopped it left listen.json naming itself, so `status` said the first was not answering."""
    agent = init_agent(tmp_path, "once").start()
    try:
        listen = (agent.data_dir / "listen.json").read_text()
        proc = run_cli("serve", str(agent.data_dir), "--listen", "127.0.0.1:0", check=False, timeout=60)
        assert proc.returncode == 2, (proc.stdout, proc.stderr)
        line = _one_sentence(proc.stderr)
        assert "already serves" in line and str(agent.proc.pid if agent.proc else "") in line, line
        assert (agent.data_dir / "listen.json").read_text() == listen
        assert agent.health()["name"] == "once"
        agent.kill()  # SIGKILL: the kernel drops the lock, nothing is left to clean
        agent.start()
        assert agent.health()["name"] == "once"
    finally:
        agent.kill()
