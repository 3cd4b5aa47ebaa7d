"""A read-only principal may ask check_health but never set_failover_role, by GET or POST (issue 16).

The principal is set by the token middleware in production; here a three-line middleware stands in for it, in
front of the real application and a real store."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import Response

from pa_console.agent.app import create_app
from pa_console.agent.identity import create_identity
from pa_console.agent.paths import DataDir
from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.store.db import Database


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    identity = create_identity(DataDir(tmp_path / "a"), "a", None, [])
    db = Database(identity.data_dir.db)
    app = create_app(AgentRuntime(identity, db))

    @app.middleware("http")
    async def principal(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.principal = SimpleNamespace(name="monitor", read_only=True)
        return await call_next(request)

    with TestClient(app, headers={"Authorization": f"Bearer {identity.api_token}"}) as c:
        yield c
    db.close()


def test_read_only_reads_health_but_cannot_set_the_role(client: TestClient) -> None:
    r = client.get("/api/command", params={"action": "check_health"})
    assert r.status_code == 200 and ET.fromstring(r.content).findtext("failover_role") == "none"
    for r in (client.get("/api/command", params={"action": "set_failover_role", "role": "primary"}),
              client.post("/api/command", data={"action": "set_failover_role", "role": "backup", "force": "1"})):
        root = ET.fromstring(r.content)
        assert r.status_code == 403 and root.tag == "error" and "read-only" in (root.text or "")
    assert client.get("/check_health").status_code == 200
