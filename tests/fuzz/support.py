"""Helpers of the fuzz tests: the agent's OpenAPI document built in-process, a state snapshot, a safety filter."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import httpx

from pa_console.agent.app import create_app
from pa_console.agent.identity import create_identity
from pa_console.agent.paths import DataDir
from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.store.db import Database
from tests.harness import RunningAgent

# Health fields that only change when state changes (not clocks, probes or progress).
STABLE_HEALTH = ("name", "version", "role", "relationship_established", "sync_enabled", "epoch", "schema_version",
                 "fingerprint_sha256", "key_fingerprint", "peer", "auto_failover", "last_sync_status", "last_sync")


def openapi_spec(tmp: Path) -> dict[str, Any]:
    """The agent serves no OpenAPI document (every endpoint needs a token): build it from an app made in-process."""
    data_dir = DataDir(tmp / "spec-agent")
    identity = create_identity(data_dir, "spec", None, [])
    db = Database(data_dir.db)
    try:
        spec: dict[str, Any] = create_app(AgentRuntime(identity, db)).openapi()
    finally:
        db.close()
    return spec


def snapshot(client: httpx.Client) -> dict[str, Any]:
    """Everything an administrator could see change, read through the API."""
    h = client.get("/api/v1/failover/health").json()  # also role, epoch, relationship and key fingerprint
    return {
        "health": {k: h.get(k) for k in STABLE_HEALTH},
        "settings": client.get("/api/v1/failover/settings").json(),
        "email": client.get("/api/v1/email").json(),
        # When the scrub last ran is not data: a scrub an earlier, accepted request started may finish meanwhile.
        "digest": {k: v for k, v in client.get("/api/v1/site/digest").json().items() if k != "verified_at"},
    }


_NETWORK_KEYS = {"host", "server", "address", "dns_server", "server_address", "primary_address"}


def keep_on_loopback(value: Any, key: str = "") -> Any:
    """Make a generated body safe to send to a real agent on this machine (we are root here): every host or
    address the agent would contact or bind becomes a loopback one, a shared address uses the loopback driver,
    and a NAT-swing command is /bin/true. Values that are invalid anyway are left as they are, to be refused."""
    if isinstance(value, dict):
        out = {k: keep_on_loopback(v, k) for k, v in value.items()}
        if out.get("driver") == "iproute2":
            out["driver"] = "loopback"
        return out
    if isinstance(value, list):
        if key == "command" and value and all(isinstance(v, str) for v in value):
            return ["/bin/true"]
        return [keep_on_loopback(v) for v in value]
    if isinstance(value, str) and key in _NETWORK_KEYS and 0 < len(value.strip()) <= 253:
        try:
            if ipaddress.ip_address(value.strip()).is_loopback:
                return value
        except ValueError:
            pass
        return "127.0.0.1"
    return value


def log_problems(agent: RunningAgent) -> list[str]:
    text = agent.output()
    log = agent.data_dir / "agent.log"
    if log.exists():
        text += log.read_text(errors="replace")
    lines = [line for line in text.splitlines() if "Traceback" in line or "unexpected error" in line
             or "Exception in ASGI" in line]
    return list(dict.fromkeys(lines)) if lines else []  # serve.out repeats agent.log
