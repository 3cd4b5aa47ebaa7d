"""`pa-agent status DATA_DIR`: role, peer, last sync and countdown in a few lines.

Asks the serving agent (its address from listen.json, its token and pinned certificate from DATA_DIR), which knows
the live state (whether the primary answers, the countdown); when nothing serves, reads the store instead.
Standard library only: the agent distribution has no HTTP client of its own for this.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

from pa_console.agent.identity import Identity
from pa_console.agent.paths import DataDir
from pa_console.protocol.models import Health, Role, SyncStatus
from pa_console.protocol.tls_pin import pinned_context

_TIMEOUT_S = 5.0


def _connect_host(listen: str) -> str:
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    # An agent listening on every address answers on loopback.
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # nosec B104 - not a bind
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def ask_serving_agent(identity: Identity, listen: str) -> Health:
    """GET /api/v1/failover/health of the agent serving DATA_DIR; raises OSError when it does not answer."""
    ctx = pinned_context(identity.cert_pem)  # the pin is the whole certificate
    request = urllib.request.Request(f"https://{_connect_host(listen)}/api/v1/failover/health",
                                     headers={"Authorization": f"Bearer {identity.api_token}"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S, context=ctx) as answer:  # noqa: S310  # nosec B310 - https only
            return Health.model_validate_json(answer.read())
    except urllib.error.HTTPError as exc:
        raise OSError(f"the agent answered {exc.code}") from exc
    except urllib.error.URLError as exc:
        raise OSError(str(exc.reason)) from exc


def read_store(identity: Identity) -> Health:
    from pa_console.agent.runtime import AgentRuntime
    from pa_console.agent.store.db import Database

    db = Database(identity.data_dir.db)
    try:
        return AgentRuntime(identity, db).health()
    finally:
        db.close()


def _ago(when: dt.datetime, now: dt.datetime) -> str:
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    value, unit = n / 1000, "kB"
    for bigger in ("MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f} {unit}"


def format_status(health: Health, source: str, now: dt.datetime | None = None) -> list[str]:
    now = now or dt.datetime.now(dt.UTC)
    lines = [f"{health.name}: {health.role.value} at epoch {health.epoch} ({source})"]
    peer = health.peer
    if peer is None:
        lines.append("peer: none (no failover relationship)")
    else:
        reach = {True: ", reachable", False: ", NOT reachable", None: ""}[health.primary_reachable]
        lines.append(f"peer: {peer.name} at {peer.host}:{peer.port}{reach}")
    last = health.last_sync
    if health.last_sync_status == SyncStatus.RUNNING:
        lines.append("last sync: running now")
    elif last is None and health.last_sync_at is None:
        lines.append("last sync: never")
    else:
        parts = [f"last sync: {health.last_sync_status.value}"]
        if health.last_sync_at is not None:
            at = health.last_sync_at if health.last_sync_at.tzinfo else health.last_sync_at.replace(tzinfo=dt.UTC)
            parts.append(f"; last good one {at:%Y-%m-%d %H:%M:%S} UTC ({_ago(at, now)})")
        if last is not None and last.status == SyncStatus.OK:
            parts.append(f", {last.rows_moved} rows and {_size(last.bytes_moved)} moved in {last.duration_s:.1f} s")
        elif last is not None and last.error:
            parts.append(f": {last.error.rstrip('.')}")
        lines.append("".join(parts))
    if health.role != Role.BACKUP:
        lines.append("countdown: none (not a backup)")
    elif health.failover_in_s is not None:
        action = "takes over" if health.auto_failover else "asks for a manual failover"
        lines.append(f"countdown: the primary is lost; this backup {action} in {health.failover_in_s:.0f} s")
    elif health.awaiting_manual_failover:
        lines.append("countdown: over; the primary is lost and this backup awaits a manual failover")
    else:
        lines.append("countdown: none (the primary answers)" if health.primary_reachable
                     else "countdown: none")
    return lines


def status(identity: Identity) -> list[str]:
    data_dir: DataDir = identity.data_dir
    listen = None
    if data_dir.listen.exists():
        try:
            listen = str(json.loads(data_dir.listen.read_text())["listen"])
        except (ValueError, KeyError):
            listen = None
    if listen is not None:
        try:
            return format_status(ask_serving_agent(identity, listen), f"serving at {listen}")
        except OSError as exc:
            return format_status(read_store(identity),
                                 f"not answering at {listen} ({str(exc).rstrip('.')}); read from the store")
    return format_status(read_store(identity), "not serving; read from the store")
