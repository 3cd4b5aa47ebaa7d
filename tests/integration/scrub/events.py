"""Reading an agent's verify_* events (history, not followed)."""

from __future__ import annotations

import json
from typing import Any

from tests.harness import RunningAgent, wait_until


def events(agent: RunningAgent, type_: str) -> list[dict[str, Any]]:
    with agent.client(timeout=10) as c:
        r = c.get("/api/v1/events", params={"after": 0, "follow": "false"})
        assert r.status_code == 200, r.text
    out = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
    return [e["data"] for e in out if e["type"] == type_]


def finished(agent: RunningAgent, timeout: float = 90, after: int = 0, **match: Any) -> dict[str, Any]:
    """The first verify_finished (after the first `after` ones) whose fields include `match`."""
    def find() -> dict[str, Any] | None:
        for data in events(agent, "verify_finished")[after:]:
            if all(data.get(k) == v for k, v in match.items()):
                return data
        return None

    result: dict[str, Any] = wait_until(find, timeout=timeout, interval=0.3, what=f"verify_finished {match}")
    return result


def sync_after(agent: RunningAgent, than: str | None, timeout: float = 120) -> dict[str, Any]:
    """The backup's next finished sync (one that finished after `than`, an ISO time)."""
    def done() -> dict[str, Any] | None:
        h = agent.health()
        report = h.get("last_sync")
        if h["last_sync_status"] != "running" and report and (than is None or report["finished_at"] > than):
            return dict(report)
        return None

    result: dict[str, Any] = wait_until(done, timeout=timeout, what="a sync to finish")
    return result
