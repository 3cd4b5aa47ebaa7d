"""The FailoverMonitor performing the machine's effects, with a fake clock, a fake peer and no network."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from pa_console.agent.failover.monitor import FailoverMonitor
from pa_console.agent.peer.client import PeerError
from pa_console.protocol.events import typed, wire_data
from pa_console.protocol.models import EventType, FailoverSettings, Role


class FakeRuntime:
    def __init__(self) -> None:
        self.name = "beta"
        self.role = Role.BACKUP
        self.relationship: Any = SimpleNamespace(peer_name="alpha", peer_host="127.0.0.1")
        self.settings = FailoverSettings(primary_timeout_s=4, probe_interval_s=1, auto_failover=True)
        self.local: Any = None  # replaced by ScriptedMonitor with get/set over local_store
        # A backup that completed a sync of the primary's store: it may take over (issue 13).
        self.local_store: dict[str, Any] = {"sync_state": {"store_id": "s1", "seq": 10}}
        self.last_heartbeat_at: float | None = None
        self.watch_status: Any = None
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.mails: list[str] = []
        self.primary_reachable: bool | None = None
        self.awaiting_manual_failover = False
        self.bus = SimpleNamespace(publish=lambda t, **d: self.events.append(wire_data(typed(t, d))))

    def types(self) -> list[str]:
        return [t for t, _ in self.events]


class FakeService:
    def __init__(self, runtime: FakeRuntime) -> None:
        self.runtime = runtime
        self.changing_role = False
        self.takeovers: list[tuple[str, int]] = []
        self.site = SimpleNamespace(ineligible=self._ineligible)
        self.blocker: str | None = None

    async def _ineligible(self) -> str | None:
        return self.blocker

    async def ineligible(self) -> str | None:
        return self.blocker

    async def automatic_takeover(self, reason: str, peer_epoch: int) -> None:
        self.takeovers.append((reason, peer_epoch))
        self.runtime.role = Role.PRIMARY


class ScriptedMonitor(FailoverMonitor):
    def __init__(self, service: Any, clock: Any) -> None:
        runtime = service.runtime
        runtime.local = SimpleNamespace(get=lambda k, d=None: runtime.local_store.get(k, d),
                                        set=lambda k, v: runtime.local_store.__setitem__(k, v))
        super().__init__(service, clock)
        self.primary_up = True

    async def _ping(self, timeout: float) -> dict[str, Any]:
        if not self.primary_up:
            raise PeerError("The peer appliance 'alpha' at 127.0.0.1:1 refused the connection.")
        return {"name": "alpha", "role": "primary", "epoch": 7}


def drive(monitor: ScriptedMonitor, clock: list[float], until: float) -> None:
    """Advance the fake clock in 0.25 s steps, letting each probe complete at once (no real waiting)."""

    async def go() -> None:
        while clock[0] < until:
            await monitor.step_once()
            await asyncio.sleep(0)  # let the scripted probe task finish
            await monitor.step_once()
            clock[0] = round(clock[0] + 0.25, 6)

    asyncio.run(go())


def make(monkeypatch: Any) -> tuple[FakeRuntime, FakeService, ScriptedMonitor, list[float]]:
    sent: list[str] = []
    monkeypatch.setattr("pa_console.agent.failover.monitor.send_in_background",
                        lambda runtime, key, subject, body: sent.append(key))

    async def shared_address_only(runtime: Any, shared_address_problem: str | None) -> str | None:
        return shared_address_problem  # the takeover methods of issue 9 have their own tests

    monkeypatch.setattr("pa_console.agent.failover.monitor.methods_blocker", shared_address_only)
    runtime = FakeRuntime()
    runtime.mails = sent
    service = FakeService(runtime)
    clock = [0.0]
    return runtime, service, ScriptedMonitor(service, lambda: clock[0]), clock


def test_lost_primary_counts_down_live_and_takes_over_above_its_epoch(monkeypatch: Any) -> None:
    runtime, service, monitor, clock = make(monkeypatch)
    drive(monitor, clock, 3)
    assert runtime.primary_reachable is True and monitor.seconds_left() is None
    assert runtime.local_store["failover_peer_epoch"] == 7
    monitor.primary_up = False
    drive(monitor, clock, 6)
    assert runtime.primary_reachable is False
    left = monitor.seconds_left()
    assert left is not None and 0 < left < 4
    assert EventType.PRIMARY_LOST.value in runtime.types() and EventType.COUNTDOWN.value in runtime.types()
    drive(monitor, clock, 12)
    assert len(service.takeovers) == 1 and service.takeovers[0][1] == 7
    assert runtime.mails[0] == "lost" and "takeover" not in runtime.mails  # the service mails the takeover
    # Now primary: the monitor stops watching and forgets the incident.
    assert runtime.primary_reachable is None and monitor.seconds_left() is None


def test_blocked_takeover_awaits_manual_failover(monkeypatch: Any) -> None:
    runtime, service, monitor, clock = make(monkeypatch)
    service.blocker = "10.9.9.9 is not in a subnet both appliances share"
    monitor.primary_up = False
    drive(monitor, clock, 10)
    assert service.takeovers == [] and runtime.awaiting_manual_failover is True
    awaiting = [d for t, d in runtime.events if t == EventType.AWAITING_MANUAL_FAILOVER.value]
    assert len(awaiting) == 1 and "not in a subnet" in awaiting[0]["reason"]
    assert runtime.mails.count("awaiting") == 1
    # The primary answers again: recovery, live fields back.
    monitor.primary_up = True
    drive(monitor, clock, 12)
    assert runtime.awaiting_manual_failover is False and runtime.primary_reachable is True
    assert runtime.mails[-1] == "recovered"


def test_not_a_backup_means_not_watching(monkeypatch: Any) -> None:
    runtime, _service, monitor, clock = make(monkeypatch)
    runtime.role = Role.PRIMARY
    monitor.primary_up = False
    drive(monitor, clock, 10)
    assert runtime.events == [] and runtime.primary_reachable is None
    runtime.role, runtime.relationship = Role.BACKUP, None
    drive(monitor, clock, 20)
    assert runtime.events == []


def test_a_never_synced_backup_says_why_and_does_not_take_over(monkeypatch: Any) -> None:
    runtime, service, monitor, clock = make(monkeypatch)
    del runtime.local_store["sync_state"]
    drive(monitor, clock, 2)
    assert "never completed a sync" in str(runtime.watch_status.auto_takeover_blocked)
    blocked = [d for t, d in runtime.events if t == EventType.TAKEOVER_BLOCKED.value]
    assert blocked and blocked[-1]["blocked"] is True
    monitor.primary_up = False
    drive(monitor, clock, 12)
    assert service.takeovers == [] and runtime.awaiting_manual_failover is True
    # A sync completes while awaiting: the takeover happens then.
    runtime.local_store["sync_state"] = {"store_id": "s1", "seq": 3}
    drive(monitor, clock, 13)
    assert len(service.takeovers) == 1


def test_heartbeats_keep_a_backup_whose_probes_fail_from_taking_over(monkeypatch: Any) -> None:
    runtime, service, monitor, clock = make(monkeypatch)
    monitor.primary_up = False

    async def go(until: float) -> None:
        while clock[0] < until:
            runtime.last_heartbeat_at = clock[0]  # the primary's heartbeats keep arriving
            await monitor.step_once()
            await asyncio.sleep(0)
            await monitor.step_once()
            clock[0] = round(clock[0] + 0.25, 6)

    asyncio.run(go(15))
    assert service.takeovers == [] and runtime.primary_reachable is True
    assert runtime.watch_status.probes_ok is False
    assert EventType.PRIMARY_LOST.value not in runtime.types()


def test_a_primary_that_refuses_the_relationship_is_never_taken_over(monkeypatch: Any) -> None:
    runtime, service, monitor, clock = make(monkeypatch)

    async def refused(timeout: float) -> dict[str, Any]:
        raise PeerError("The peer appliance does not know this token.", 401)

    monitor._ping = refused  # type: ignore[method-assign]
    drive(monitor, clock, 20)
    assert service.takeovers == [] and runtime.primary_reachable is True
    assert "no longer recognises" in str(runtime.watch_status.primary_refused)
    assert [t for t in runtime.types() if t == EventType.PRIMARY_REFUSED.value] == ["primary_refused"]
    assert runtime.mails.count("refused") == 1
