"""A read-only token (issue 16: least privilege for monitors) reads health, metrics and the command API's
check_health, and is refused on every endpoint that changes anything, including set_failover_role by GET or POST.

The list of changing endpoints is taken from the application itself, so a new route cannot be forgotten here."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from pa_console.agent.app import create_app
from pa_console.agent.identity import create_identity
from pa_console.agent.paths import DataDir
from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.store.db import Database
from tests.harness import RunningAgent, run_cli


def _changing_routes(tmp_path: Path) -> list[tuple[str, str]]:
    identity = create_identity(DataDir(tmp_path / "routes"), "routes", None, [])
    db = Database(identity.data_dir.db)
    try:
        app = create_app(AgentRuntime(identity, db))
        paths = app.openapi()["paths"]
        routes = [(method.upper(), re.sub(r"\{[^}]+\}", "x", path))
                  for path, operations in paths.items() for method in sorted(operations)
                  if method.upper() not in {"GET", "HEAD"}]
    finally:
        db.close()
    # The peer has its own credentials; the command API decides by its action (below).
    return [(m, p) for m, p in routes if not p.startswith("/api/v1/peer/") and p != "/api/command"]


def test_read_only_token_reads_and_changes_nothing(agents: Callable[..., RunningAgent], tmp_path: Path) -> None:
    agent = agents("monitored")
    proc = run_cli("token", "create", str(agent.data_dir), "prometheus", "--read-only")
    reader = proc.stdout.strip()
    before = agent.get("/api/v1/failover/settings")
    changing = _changing_routes(tmp_path)
    assert len(changing) >= 10, changing  # settings, sync, role, relationship, key, email, tokens, verify, command...
    with agent.client(token=reader) as c:
        assert c.get("/api/v1/failover/health").status_code == 200
        assert c.get("/metrics").status_code == 200 and "pa_agent_role" in c.get("/metrics").text
        r = c.get("/api/command", params={"action": "check_health"})
        assert r.status_code == 200 and ET.fromstring(r.content).findtext("failover_role") == "none"
        for method, path in changing:
            r = c.request(method, path, json={})
            assert r.status_code == 403, (method, path, r.status_code, r.text)
        for r in (c.get("/api/command", params={"action": "set_failover_role", "role": "primary"}),
                  c.post("/api/command", data={"action": "set_failover_role", "role": "backup", "force": "1"})):
            root = ET.fromstring(r.content)
            assert r.status_code == 403 and root.tag == "error" and "read-only" in (root.text or ""), r.text
    assert agent.get("/api/v1/failover/settings") == before
    assert agent.health()["role"] == "standalone"
