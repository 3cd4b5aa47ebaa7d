"""ApplianceMonitor without a network: polls set the status, history only feeds the timeline, live events
change the state, notify and trigger re-reads; errors become the matching connection status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pa_console.console.client.errors import AgentError, ErrorCategory
from pa_console.console.services.monitor import ApplianceMonitor
from pa_console.console.state.appliance import ApplianceRef, ApplianceState
from pa_console.console.state.notifier import Notice, NoticeKind, Notifier
from pa_console.console.state.status import ConnectionStatus
from pa_console.console.state.timeline import TimelineModel
from pa_console.protocol.models import EmailConfig, FailoverSettings, KeyFingerprint, Role

from .factories import health


def sse(event_id: int, kind: str, ts: datetime, **data: Any) -> str:
    import json

    body = json.dumps({"id": event_id, "ts": ts.isoformat(), "type": kind, "data": data})
    return f"id: {event_id}\nevent: {kind}\ndata: {body}\n\n"


class FakeAgent:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail: AgentError | None = None
        self.stream = ""
        self.role = Role.BACKUP

    async def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.fail is not None:
            raise self.fail

    async def health(self) -> Any:
        await self._call("health")
        return health("beta", self.role)

    async def failover_settings(self) -> FailoverSettings:
        await self._call("settings")
        return FailoverSettings()

    async def key_fingerprint(self) -> KeyFingerprint:
        await self._call("key")
        return KeyFingerprint(fingerprint="ab" * 16)

    async def relationship(self) -> None:
        await self._call("relationship")

    async def email(self) -> EmailConfig:
        await self._call("email")
        return EmailConfig()

    async def aclose(self) -> None:
        pass

    @asynccontextmanager
    async def event_lines(self, after: int) -> AsyncIterator[AsyncIterator[str]]:
        text, self.stream = self.stream, ""

        async def lines() -> AsyncIterator[str]:
            for line in text.split("\n"):
                yield line
            await asyncio.sleep(3600)

        yield lines()


class Sink:
    def __init__(self) -> None:
        self.shown: list[Notice] = []

    def show(self, notice: Notice) -> None:
        self.shown.append(notice)


async def _until(predicate: Any, timeout: float = 3) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_history_feeds_timeline_live_events_change_state() -> None:
    async def go() -> tuple[ApplianceState, FakeAgent, TimelineModel, Sink]:
        now = datetime.now(UTC)
        agent = FakeAgent()
        agent.stream = (
            sse(1, "primary_lost", now - timedelta(hours=1))
            + sse(2, "primary_lost", now)
            + sse(3, "settings_changed", now)
        )
        state = ApplianceState(ApplianceRef("b", "beta", "127.0.0.1", 1, "ff"))
        timeline, notifier, sink = TimelineModel(), Notifier(), Sink()
        notifier.add_sink(sink)
        monitor = ApplianceMonitor(state, agent, notifier=notifier, timeline=timeline, poll_interval=0.05)  # type: ignore[arg-type]
        monitor.start()
        await _until(lambda: state.status == ConnectionStatus.ONLINE and state.last_event_id == 3)
        await _until(lambda: agent.calls.count("settings") >= 2)  # settings_changed made it re-read them
        await monitor.stop()
        return state, agent, timeline, sink

    state, agent, timeline, sink = asyncio.run(go())
    # The first contact read everything a backup has (not its email: that is the primary's to edit).
    assert {"health", "settings", "key", "relationship"} <= set(agent.calls) and "email" not in agent.calls
    assert state.key_fingerprint == "ab" * 16
    assert [e.event.id for e in timeline.all_entries()] == [1, 2, 3]
    # Only the live "primary lost" was told; the hour-old one is history.
    assert [n.kind for n in sink.shown] == [NoticeKind.PRIMARY_LOST]


def test_errors_become_statuses_and_recover() -> None:
    async def go() -> list[ConnectionStatus]:
        agent = FakeAgent()
        state = ApplianceState(ApplianceRef("b", "beta", "127.0.0.1", 1, "ff"))
        seen: list[ConnectionStatus] = []
        state.changed.connect(lambda what: what == "status" and seen.append(state.status))
        monitor = ApplianceMonitor(state, agent, poll_interval=0.02, max_poll_interval=0.05)  # type: ignore[arg-type]
        agent.fail = AgentError(ErrorCategory.AUTH, "Bad token.", status_code=401)
        monitor.start()
        await _until(lambda: state.status == ConnectionStatus.AUTH_PROBLEM)
        assert state.status_detail == "Bad token."
        agent.fail = AgentError(ErrorCategory.CONNECTION, "down")
        await _until(lambda: state.status == ConnectionStatus.OFFLINE)
        agent.fail = None
        await _until(lambda: state.status == ConnectionStatus.ONLINE)
        await monitor.stop()
        return seen

    assert asyncio.run(go()) == [ConnectionStatus.AUTH_PROBLEM, ConnectionStatus.OFFLINE, ConnectionStatus.ONLINE]
