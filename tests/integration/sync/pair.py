"""Two real agents made into a primary/backup pair, for the sync and failover tests."""

from __future__ import annotations

from typing import Any

from tests.harness import RunningAgent, wait_until

KEY = "5a" * 32


def establish(primary: RunningAgent, backup: RunningAgent, expect: int = 201) -> dict[str, Any]:
    r = primary.request("POST", "/api/v1/failover/relationship", json={
        "backup": {"host": backup.host, "port": backup.port},
        "reverse": {"host": primary.host, "port": primary.port}})
    assert r.status_code == expect, (r.status_code, r.text)
    result: dict[str, Any] = r.json()
    return result


def configure(agent: RunningAgent, **settings: Any) -> None:
    r = agent.request("PUT", "/api/v1/failover/settings", json=settings)
    assert r.status_code == 200, r.text


def last_sync(agent: RunningAgent) -> dict[str, Any] | None:
    result: dict[str, Any] | None = agent.health().get("last_sync")
    return result


def sync_now(backup: RunningAgent, timeout: float = 120) -> dict[str, Any]:
    """Start a sync and wait for its report (a new one, finished)."""
    before = last_sync(backup)
    r = backup.request("POST", "/api/v1/failover/sync")
    assert r.status_code == 202 and r.json()["started"], r.text

    def done() -> dict[str, Any] | None:
        h = backup.health()
        report = h.get("last_sync")
        if h["last_sync_status"] != "running" and report and report != before:
            return dict(report)
        return None

    result: dict[str, Any] = wait_until(done, timeout=timeout, what="the sync to finish")
    return result
