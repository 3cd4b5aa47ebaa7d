"""Appliances install no Qt: the agent distribution's resolved install, and an agent running without Qt (issue 16)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.harness import REPO, RunningAgent, init_agent, pinned_context, wait_until

DESKTOP = {"pyside6", "pyside6-essentials", "pyside6-addons", "shiboken6", "qasync", "keyring", "jeepney"}

# Run the agent with every desktop module made unimportable, as on an appliance where they are not installed.
BLOCKED_RUN = textwrap.dedent("""
    import importlib.abc, sys
    BLOCKED = {"PySide6", "shiboken6", "qasync", "keyring", "jeepney"}
    class NotInstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (not installed on an appliance)")
            return None
    sys.meta_path.insert(0, NotInstalled())
    from pa_console.agent.cli import main
    raise SystemExit(main(sys.argv[1:]))
""")


def test_an_agent_runs_with_no_desktop_module_importable(tmp_path: Path) -> None:
    agent = init_agent(tmp_path, "appliance")
    out = open(tmp_path / "serve.out", "wb")
    proc = subprocess.Popen([sys.executable, "-c", BLOCKED_RUN, "serve", str(agent.data_dir), "--listen",
                             "127.0.0.1:0"], stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    out.close()
    try:
        listen = agent.data_dir / "listen.json"
        wait_until(lambda: proc.poll() is not None or listen.exists(), timeout=30, what="the agent to serve")
        assert proc.poll() is None, (tmp_path / "serve.out").read_text()
        agent.port = int(json.loads(listen.read_text())["listen"].rsplit(":", 1)[1])
        running = RunningAgent(agent.data_dir, agent.name, port=agent.port, token=agent.token,
                               cert_pem=agent.cert_pem)
        wait_until(lambda: running.request("GET", "/api/v1/failover/health").status_code == 200, timeout=30,
                   what="health")
        assert running.request("GET", "/metrics").status_code == 200
        with httpx.Client(verify=pinned_context(agent.cert_pem)) as c:
            assert c.get(f"{running.url}/check_health").status_code == 200
    finally:
        proc.terminate()
        proc.wait(20)
    assert "ModuleNotFoundError" not in (tmp_path / "serve.out").read_text()


def _clean_build_leftovers() -> None:
    # pip builds the agent distribution in place (its sources are the root's pa_console/).
    shutil.rmtree(REPO / "packaging/agent/build", ignore_errors=True)
    shutil.rmtree(REPO / "pa_agent.egg-info", ignore_errors=True)


def test_installing_the_agent_distribution_brings_no_qt(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    try:
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                               "--report", str(report), str(REPO / "packaging/agent")],
                              capture_output=True, text=True, timeout=300)
    finally:
        _clean_build_leftovers()
    if proc.returncode != 0 and "No matching distribution" in proc.stderr:
        pytest.skip(f"no package index reachable: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    names = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert "pa-agent" in names and {"fastapi", "uvicorn", "prometheus-client"} <= {n.replace("_", "-") for n in names}
    assert not DESKTOP & names, sorted(DESKTOP & names)


@pytest.mark.long
def test_a_real_agent_only_install_in_a_fresh_venv(tmp_path: Path) -> None:
    """The whole install, outside the tree, then init and serve (about a minute; run with -m long)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    try:
        subprocess.run([str(venv / "bin/pip"), "install", "-q", str(REPO / "packaging/agent")], check=True,
                       timeout=900)
    finally:
        _clean_build_leftovers()
    listed = subprocess.run([str(venv / "bin/pip"), "list", "--format=json"], capture_output=True, text=True,
                            check=True).stdout
    assert not DESKTOP & {p["name"].lower() for p in json.loads(listed)}
    data = tmp_path / "data"
    subprocess.run([str(venv / "bin/pa-agent"), "init", str(data), "--name", "lone"], check=True, cwd=tmp_path)
    proc = subprocess.Popen([str(venv / "bin/pa-agent"), "serve", str(data), "--listen", "127.0.0.1:0"],
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    try:
        deadline = time.monotonic() + 60
        while not (data / "listen.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        proc.terminate()
        assert proc.wait(20) == 0
