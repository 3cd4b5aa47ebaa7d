"""Fake appliance data for Qt-free tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pa_console.console.state.appliance import ApplianceRef, ApplianceState
from pa_console.console.state.status import ConnectionStatus
from pa_console.protocol.events import EventBody
from pa_console.protocol.models import Event, FailoverSettings, Health, PeerSummary, Role, SyncStatus


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def health(name: str, role: Role = Role.STANDALONE, **fields: Any) -> Health:
    base: dict[str, Any] = dict(
        name=name,
        version="0.1.0",
        role=role,
        relationship_established=role != Role.STANDALONE,
        sync_enabled=True,
        last_sync_at=None,
        last_sync_status=SyncStatus.NEVER,
        primary_reachable=None,
        failover_in_s=None,
        epoch=1,
        schema_version=1,
    )
    base.update(fields)
    return Health(**base)


def appliance(
    name: str,
    port: int,
    role: Role = Role.STANDALONE,
    *,
    peer: tuple[str, int, str] | None = None,
    clock: FakeClock | None = None,
    **health_fields: Any,
) -> ApplianceState:
    fingerprint = f"{port:064x}"
    state = ApplianceState(
        ApplianceRef(id=f"id-{name}", name=name, host="127.0.0.1", port=port, cert_fingerprint=fingerprint),
        clock=clock or FakeClock(),
    )
    if peer is not None:
        health_fields["peer"] = PeerSummary(name=peer[0], host="127.0.0.1", port=peer[1], fingerprint_sha256=peer[2])
    state.set_health(health(name, role, **health_fields))
    state.set_status(ConnectionStatus.ONLINE)
    state.set_settings(FailoverSettings())
    return state


def pair(clock: FakeClock | None = None, **backup_health: Any) -> tuple[ApplianceState, ApplianceState]:
    """A primary on port 1001 and a backup on port 1002 that name each other as peers."""
    clock = clock or FakeClock()
    primary = appliance("alpha", 1001, Role.PRIMARY, peer=("beta", 1002, f"{1002:064x}"), clock=clock)
    fields: dict[str, Any] = dict(
        primary_reachable=True, last_sync_at=datetime.now(UTC) - timedelta(seconds=30), last_sync_status="ok"
    )
    fields.update(backup_health)
    backup = appliance("beta", 1002, Role.BACKUP, peer=("alpha", 1001, f"{1001:064x}"), clock=clock, **fields)
    primary.set_key_fingerprint("aa" * 32)
    backup.set_key_fingerprint("AA" * 32)
    return primary, backup


_ids = iter(range(1, 10**9))


STARTED = datetime(2026, 1, 1, tzinfo=UTC)  # a sync report's start, where the test does not care


def event(body: EventBody, *, ts: datetime | None = None, id: int | None = None) -> Event:
    """An event as the console receives it, built from the real model (as the agent publishes it)."""
    return Event.model_validate_json(
        Event.of(body, id=id if id is not None else next(_ids), ts=ts or datetime.now(UTC)).model_dump_json()
    )
