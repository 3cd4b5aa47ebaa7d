"""`pa-agent init / serve / info / seed` as a user's script runs them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.harness import REPO, init_agent, pinned_context, run_cli


def test_init_creates_identity_with_private_secrets(tmp_path: Path) -> None:
    proc = run_cli("init", str(tmp_path / "a"), "--name", "alpha")
    assert "alpha" in proc.stdout
    for rel in ("identity.json", "tls/key.pem", "inter-appliance.key"):
        mode = stat.S_IMODE((tmp_path / "a" / rel).stat().st_mode)
        assert mode == 0o600, (rel, oct(mode))
    info = json.loads(run_cli("info", str(tmp_path / "a"), "--json").stdout)
    assert info["name"] == "alpha"
    assert info["listen"] is None
    assert len(info["api_token"]) >= 32
    assert len(info["fingerprint_sha256"].split(":")) == 32
    assert Path(info["cert_path"]).read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    run_cli("init", str(tmp_path / "a"))
    token = json.loads(run_cli("info", str(tmp_path / "a"), "--json").stdout)["api_token"]
    proc = run_cli("init", str(tmp_path / "a"), check=False)
    assert proc.returncode == 2
    assert "already holds an appliance identity" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads(run_cli("info", str(tmp_path / "a"), "--json").stdout)["api_token"] == token


def test_init_key_file_sets_the_inter_appliance_key(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    key = "ab" * 32
    a = agents("a", key_hex=key)
    b = agents("b", key_hex=key)
    c = agents("c")
    fa = a.get("/api/v1/security/key")["fingerprint"]
    assert fa == b.get("/api/v1/security/key")["fingerprint"]
    assert fa != c.get("/api/v1/security/key")["fingerprint"]
    assert key not in json.dumps(a.health())
    short = tmp_path / "short.key"
    short.write_text("abc")
    proc = run_cli("init", str(tmp_path / "d"), "--key-file", str(short), check=False)
    assert proc.returncode == 2 and "too short" in proc.stderr


def test_serve_port_zero_reports_address_and_stops_cleanly(tmp_path: Path) -> None:
    agent = init_agent(tmp_path, "alpha").start()
    info = json.loads(run_cli("info", str(agent.data_dir), "--json").stdout)
    assert info["listen"] == f"127.0.0.1:{agent.port}"
    assert agent.health()["name"] == "alpha"
    assert agent.terminate() == 0
    assert not (agent.data_dir / "listen.json").exists()
    assert json.loads(run_cli("info", str(agent.data_dir), "--json").stdout)["listen"] is None


def test_serve_errors_are_one_sentence(tmp_path: Path) -> None:
    agent = init_agent(tmp_path, "alpha")
    proc = run_cli("serve", str(agent.data_dir), "--listen", "127.0.0.1:99999", check=False)
    assert proc.returncode == 2 and "not HOST:PORT" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("serve", str(tmp_path / "nothing"), "--listen", "127.0.0.1:0", check=False)
    assert proc.returncode == 2 and "pa-agent init" in proc.stderr
    agent.start()
    proc = run_cli("serve", str(agent.data_dir), "--listen", f"127.0.0.1:{agent.port}", check=False)
    assert proc.returncode == 2 and "Cannot listen" in proc.stderr and "Traceback" not in proc.stderr
    agent.kill()


def test_serve_refuses_world_readable_identity(tmp_path: Path) -> None:
    agent = init_agent(tmp_path, "alpha")
    os.chmod(agent.data_dir / "inter-appliance.key", 0o644)
    proc = run_cli("serve", str(agent.data_dir), "--listen", "127.0.0.1:0", check=False)
    assert proc.returncode == 2
    assert "can be read by other users" in proc.stderr and "chmod 600" in proc.stderr


def test_restart_keeps_data(agents) -> None:  # type: ignore[no-untyped-def]
    a = agents("alpha")
    a.seed(50, 10_000)
    r = a.request("PUT", "/api/v1/email", json={"host": "smtp.example.com", "port": 587, "security": "starttls",
                                               "sender": "pa@example.com", "recipients": ["ops@example.com"],
                                               "password": "s3cret"})
    assert r.status_code == 200
    before = a.digest()
    assert before["sessions"] == 50 and before["recording_bytes"] == 500_000
    a.restart()
    assert a.digest() == before
    email = a.get("/api/v1/email")
    assert email["host"] == "smtp.example.com" and email["password_set"] is True


def test_certificate_is_pinned(agents) -> None:  # type: ignore[no-untyped-def]
    a = agents("alpha")
    b = agents("beta")
    # A client that pinned beta's certificate must refuse alpha's, even on the right address.
    with pytest.raises(httpx.ConnectError), httpx.Client(verify=pinned_context(b.cert_pem)) as c:
        c.get(f"{a.url}/api/v1/failover/health", headers={"Authorization": f"Bearer {a.token}"})


def test_seed_streams_recordings_larger_than_the_memory_budget(agents) -> None:  # type: ignore[no-untyped-def]
    a = agents("alpha")
    big = 300 * 1024 * 1024
    # Seed while the agent serves, and measure the seed process's own peak RSS. A small launcher starts it, because a
    # child forked straight from this (large) test process would count the parent's pages until it execs.
    launcher = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
                "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", launcher, sys.executable, "-m", "pa_console.agent", "seed",
                           str(a.data_dir), "--sessions", "1", "--recording-bytes", str(big)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    peak_mb = int(proc.stdout.split()[-1]) / 1024
    assert peak_mb < 150, f"seed peaked at {peak_mb:.0f} MB for a {big >> 20} MB recording"
    digest = a.digest()
    assert digest["sessions"] == 1 and digest["recordings"] == 1 and digest["recording_bytes"] == big
    # The serving agent saw the change as an event.
    with a.client() as c:
        r = c.get("/api/v1/events", params={"after": 0, "follow": "false"})
    assert "event: site_changed" in r.text

