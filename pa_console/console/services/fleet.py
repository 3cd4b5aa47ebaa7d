"""Fleet: the appliances the console knows, their clients, monitors and states. Views are given one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from pa_console.console.client.agent_client import AgentClient
from pa_console.console.client.errors import AgentError, ErrorCategory
from pa_console.console.client.tls import fetch_certificate, fingerprint_of_pem
from pa_console.console.fingerprints import same_fingerprint
from pa_console.console.secrets import TokenStore
from pa_console.console.services.commands import ApplianceCommands
from pa_console.console.services.monitor import ALL_PARTS, ApplianceMonitor
from pa_console.console.settings import ApplianceEntry, ConsoleSettings, SettingsStore
from pa_console.console.state.appliance import ApplianceRef, ApplianceState
from pa_console.console.state.banners import BannerBoard
from pa_console.console.state.notifier import NoticeKind, Notifier, Urgency
from pa_console.console.state.observable import Signal
from pa_console.console.state.pairs import ApplianceGroup, find_peer, group_appliances
from pa_console.console.state.status import ConnectionStatus
from pa_console.console.state.timeline import TimelineModel

log = logging.getLogger(__name__)

ClientFactory = Callable[[str, int, str, str], AgentClient]


def _default_client(host: str, port: int, token: str, cert_pem: str) -> AgentClient:
    return AgentClient(host, port, token, cert_pem)


class Fleet:
    def __init__(
        self,
        settings_store: SettingsStore,
        tokens: TokenStore,
        *,
        notifier: Notifier | None = None,
        timeline: TimelineModel | None = None,
        client_factory: ClientFactory = _default_client,
        poll_interval: float = 2.0,
    ) -> None:
        self.settings_store = settings_store
        self.tokens = tokens
        self.notifier = notifier or Notifier()
        self.timeline = timeline or TimelineModel()
        self.settings = ConsoleSettings()
        self._client_factory = client_factory
        self._poll_interval = poll_interval
        self.states: dict[str, ApplianceState] = {}
        self._commands: dict[str, ApplianceCommands] = {}
        self._shape: tuple[tuple[str, ...], ...] = ()
        self.monitors: dict[str, ApplianceMonitor] = {}
        # Fired when appliances are added/removed or a pair forms or breaks (the list regroups).
        self.changed: Signal[None] = Signal()
        # Sentences for the user about problems that belong to no appliance (e.g. no keyring).
        self.problem: Signal[str] = Signal()
        # What the window's banner shows: conditions of the appliances and the console's own messages.
        self.banners = BannerBoard(lambda: list(self.states.values()))

    # -- lifecycle --------
    async def start(self) -> None:
        problem = await self.tokens.problem()
        if problem is not None:  # said at start, in plain words, not at the first "Trust and add"
            self.banners.post("keyring", problem, Urgency.CRITICAL)
        self.settings = await asyncio.to_thread(self.settings_store.load)
        self.notifier.enabled -= {k for k in NoticeKind if k.value in self.settings.disabled_notices}
        for entry in self.settings.appliances:
            state = self._adopt_entry(entry)
            try:
                token = await self.tokens.get(entry.id)
            except Exception as exc:
                self.problem.emit(str(exc))
                token = None
            if token is None:
                state.set_status(ConnectionStatus.AUTH_PROBLEM, "No API token is stored for it; add it again.")
                continue
            self._start_monitor(entry, state, token)
        self.changed.emit(None)

    async def aclose(self) -> None:
        monitors = list(self.monitors.values())
        self.monitors.clear()
        await asyncio.gather(*(m.stop() for m in monitors), return_exceptions=True)

    # -- appliances --------
    @staticmethod
    def _ref(entry: ApplianceEntry) -> ApplianceRef:
        return ApplianceRef(entry.id, entry.name, entry.host, entry.port, entry.fingerprint)

    def _adopt_entry(self, entry: ApplianceEntry) -> ApplianceState:
        state = ApplianceState(self._ref(entry))
        self.adopt(state)
        return state

    def adopt(self, state: ApplianceState) -> None:
        """Register a state (tests use this to drive views with fake data, without a monitor)."""
        self.states[state.id] = state
        self._shape = self._group_shape()
        state.changed.connect(lambda what: self._maybe_regroup(what))
        state.changed.connect(lambda _what: self.banners.refresh())

    def _maybe_regroup(self, what: str) -> None:
        if what in ("key", "health", "relationship"):
            self._compare_pair_keys()
        if what in ("health", "relationship"):
            shape = self._group_shape()
            if shape != self._shape:
                self._shape = shape
                self.changed.emit(None)

    def _compare_pair_keys(self) -> None:
        """Tell (once) when the two appliances of a pair hold different Inter-Appliance keys."""
        for group in self.groups():
            if group.is_pair:
                a, b = group.members
                if a.key_fingerprint and b.key_fingerprint:
                    self.notifier.keys_compared(group.title, same_fingerprint(a.key_fingerprint, b.key_fingerprint))

    def _group_shape(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(m.id for m in g.members) for g in self.groups())

    def _start_monitor(self, entry: ApplianceEntry, state: ApplianceState, token: str) -> None:
        client = self._client_factory(entry.host, entry.port, token, entry.cert_pem)
        monitor = ApplianceMonitor(
            state,
            client,
            notifier=self.notifier,
            timeline=self.timeline,
            poll_interval=self._poll_interval,
        )
        self.monitors[entry.id] = monitor
        monitor.start()

    async def probe_certificate(self, host: str, port: int) -> tuple[str, str]:
        """First contact: the certificate the agent presents and its fingerprint, to show to the user."""
        pem = await fetch_certificate(host, port)
        return pem, fingerprint_of_pem(pem)

    async def add_appliance(self, host: str, port: int, token: str, cert_pem: str, name: str = "") -> ApplianceState:
        """Check the token over the pinned certificate, then keep it (keyring) and the entry."""
        for existing in self.states.values():
            if existing.ref.host == host and existing.ref.port == port:
                raise AgentError(ErrorCategory.REQUEST, f"{host}:{port} is already in the console.")
        client = self._client_factory(host, port, token, cert_pem)
        try:
            health = await client.health()
        finally:
            await client.aclose()
        entry = ApplianceEntry(name=name or health.name, host=host, port=port, cert_pem=cert_pem)
        await self.tokens.set(entry.id, token)
        self.settings.appliances.append(entry)
        await self.settings_store.asave(self.settings)
        state = self._adopt_entry(entry)
        self._start_monitor(entry, state, token)
        self.changed.emit(None)
        return state

    async def remove_appliance(self, appliance_id: str) -> None:
        monitor = self.monitors.pop(appliance_id, None)
        if monitor is not None:
            await monitor.stop()
        self.states.pop(appliance_id, None)
        self.banners.refresh()
        self._shape = self._group_shape()
        self.settings.appliances = [e for e in self.settings.appliances if e.id != appliance_id]
        await self.settings_store.asave(self.settings)
        try:
            await self.tokens.delete(appliance_id)
        except Exception as exc:
            self.problem.emit(str(exc))
        self.changed.emit(None)

    # -- queries --------
    def state(self, appliance_id: str) -> ApplianceState:
        return self.states[appliance_id]

    def commands(self, appliance_id: str) -> ApplianceCommands:
        """The operations on one appliance, with their busy state and errors (one set per appliance)."""
        commands = self._commands.get(appliance_id)
        if commands is None:
            commands = self._commands[appliance_id] = ApplianceCommands(self, appliance_id)
        return commands

    def client(self, appliance_id: str) -> AgentClient:
        monitor = self.monitors.get(appliance_id)
        if monitor is None:
            raise AgentError(ErrorCategory.CONNECTION, "The console has no connection to this appliance.")
        return monitor.client

    def peer_of(self, appliance_id: str) -> ApplianceState | None:
        state = self.states.get(appliance_id)
        if state is None:
            return None
        return find_peer(state, self.states.values()) or next(
            (o for o in self.states.values() if o is not state and find_peer(o, [state]) is state), None
        )

    def find_by_address(self, host: str, port: int) -> ApplianceState | None:
        host = host.strip().lower().rstrip(".")
        return next((s for s in self.states.values()
                     if s.ref.host.lower().rstrip(".") == host and s.ref.port == port), None)

    def groups(self) -> list[ApplianceGroup]:
        return group_appliances(list(self.states.values()))

    async def refresh(self, *appliance_ids: str, parts: frozenset[str] = ALL_PARTS) -> None:
        """Re-read state after the user changed something; errors land in the appliance's status."""
        for appliance_id in appliance_ids:
            monitor = self.monitors.get(appliance_id)
            if monitor is None:
                continue
            try:
                await monitor.refresh(parts)
            except AgentError as exc:
                log.info("refresh of %s failed: %s", appliance_id, exc.message)
                monitor.poke()
        self.changed.emit(None)
