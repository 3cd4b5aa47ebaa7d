"""FailoverMonitor: on a backup, probes the primary and performs what the watch's state machine decides."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from pa_console.agent.failover import machine, messages
from pa_console.agent.failover.machine import (
    Effect,
    Mail,
    Phase,
    ProbeFailed,
    ProbeOk,
    Publish,
    TakeOver,
    Tick,
    WatchConfig,
    WatchEvent,
    WatchState,
)
from pa_console.agent.failover.mailer import send_in_background
from pa_console.agent.failover.witness import WatchStatus, witness_blocker
from pa_console.agent.peer.client import PeerClient, PeerError
from pa_console.agent.sync.staging import STATE_KEY as SYNC_STATE_KEY
from pa_console.agent.takeover_methods.runner import methods_blocker
from pa_console.protocol.events import TakeoverBlocked
from pa_console.protocol.models import Role

if TYPE_CHECKING:
    from pa_console.agent.runtime import AgentRuntime

log = logging.getLogger(__name__)

TICK_S = 0.2  # how often time is fed to the machine: countdown events land within this of each whole second
ELIGIBILITY_TTL_S = 30.0  # the shared-address check runs commands; re-check this often (and on any change)


PEER_EPOCH_KEY = "failover_peer_epoch"  # in the appliance's local (never synchronised) state
PEER_STORE_KEY = "failover_peer_store"  # the primary's store id as last seen (a copy of another store is no copy)
WITNESS_EVERY_S = 5.0  # how often witnesses are checked while the primary answers (every probe while it does not)
WITNESS_TIMEOUT_S = 1.0


# The primary answered, but not as our primary: 401 (it no longer knows the token: broken there, another key),
# 403 (another pair). Never a lost primary.
REFUSING_STATUSES = (401, 403)


def probe_timeout(probe_interval_s: float) -> float:
    """Short, so that a dead primary is noticed quickly, yet not so short that a busy one looks dead."""
    return min(3.0, max(1.0, 2 * probe_interval_s))


class RoleOwner(Protocol):
    """What the watch needs of the one component that owns role, epoch and relationship (the FailoverService):
    the monitor decides, the owner changes the role (fenced, in one transaction) and says whether it is busy."""

    @property
    def runtime(self) -> AgentRuntime: ...

    @property
    def changing_role(self) -> bool: ...

    async def ineligible(self) -> str | None:
        """Why the shared address cannot be taken over here (None: it can)."""
        ...

    async def automatic_takeover(self, reason: str, peer_epoch: int) -> None: ...


class FailoverMonitor:
    def __init__(self, service: RoleOwner, clock: Callable[[], float] = time.monotonic) -> None:
        self.service = service
        self.runtime = service.runtime
        self.clock = clock
        self.state = WatchState()
        self.config: WatchConfig | None = None
        # The primary's epoch as last seen: a takeover must go above it.
        self.peer_epoch = int(self.runtime.local.get(PEER_EPOCH_KEY, 0))
        self._config_at = -1e9
        self._probe: asyncio.Task[dict[str, Any]] | None = None
        self._next_probe = 0.0
        self._probe_sent_at = 0.0
        self.peer_store: str | None = self.runtime.local.get(PEER_STORE_KEY)
        self._heartbeat_fed: float | None = None
        self._witness: asyncio.Task[str | None] | None = None
        self._next_witness = 0.0
        self.witness_blocker: str | None = None
        self.witness_checked = False
        self.probes_ok: bool | None = None
        self._announced_blocker: str | None = None

    # -- live fields read by health() ------------------------------------------------------------------------------
    def seconds_left(self) -> float | None:
        if self.config is None:
            return None
        left = self.state.seconds_left(self.clock(), self.config)
        return None if left is None else round(left, 1)

    def _publish_live(self) -> None:
        rt = self.runtime
        rt.primary_reachable = self.state.primary_reachable
        rt.awaiting_manual_failover = self.state.phase == Phase.AWAITING_MANUAL
        watching = self.state.phase != Phase.IDLE
        # Why it could not take over even with automatic failover on (the switch itself is in the settings).
        blocked = self.config.obstacle if self.config and watching else None
        if watching and blocked != self._announced_blocker:
            # Said once per change (not per tick): the console's readiness and the timeline follow it.
            self._announced_blocker = blocked
            rt.bus.publish(TakeoverBlocked(blocked=blocked is not None, reason=blocked))
        elif not watching:
            self._announced_blocker = None
        rt.watch_status = WatchStatus(
            copy_blocker=self.config.copy_blocker if self.config and watching else None,
            auto_takeover_blocked=blocked,
            method_blocker=self.config.takeover_blocker if self.config and watching else None,
            primary_refused=messages.refused_detail(self.config, self.state.refused)
            if self.config and self.state.phase == Phase.REFUSED else None,
            probes_ok=self.probes_ok if watching else None,
            witness_ok=(self.witness_blocker is None) if watching and self.witness_checked else None,
            witness_detail=self.witness_blocker if watching else None)

    # -- the loop ----------------------------------------------------------------------------------------------------
    def watching(self) -> bool:
        return self.runtime.role == Role.BACKUP and self.runtime.relationship is not None

    def settings_changed(self) -> None:
        self._config_at = -1e9  # re-read settings and re-check eligibility on the next step

    async def run(self, wake: asyncio.Event) -> None:
        self.runtime.failover_in_s = self.seconds_left
        try:
            while True:
                await self.step_once()
                await self._sleep(wake)
        finally:
            self._cancel_probe()

    async def _sleep(self, wake: asyncio.Event) -> None:
        delay = TICK_S if self.state.phase != Phase.IDLE else 1.0
        waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(wake.wait())}
        if self._probe is not None:
            waits.add(self._probe)
        _done, pending = await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        for fut in pending:
            if fut is not self._probe:
                fut.cancel()
        wake.clear()

    async def step_once(self) -> None:
        now = self.clock()
        if not self.watching() or self.service.changing_role:
            if self.state.phase != Phase.IDLE:
                await self._feed(machine.Stop(now))
            self._cancel_probe()
            return
        config_changed = now - self._config_at > ELIGIBILITY_TTL_S or self.config is None
        if config_changed:
            self.config = await self._read_config()
            self._config_at = now
        assert self.config is not None
        # Cheap and live (a completed sync, a witness answering): re-derived at every step.
        live = replace(self.config, copy_blocker=self._copy_blocker(), witness_blocker=self._witness_result(now))
        if live != self.config:
            self.config = live
            config_changed = True
        if self.state.phase == Phase.IDLE:
            await self._feed(machine.Start(now))
            self._next_probe = now
        elif config_changed:
            await self._feed(machine.ConfigChanged(now))
        heard = self.runtime.last_heartbeat_at
        if heard is not None and heard != self._heartbeat_fed:
            self._heartbeat_fed = heard
            await self._feed(machine.Heartbeat(heard))
        if self._probe is not None and self._probe.done():
            await self._collect(now)
        assert self.config is not None
        if self._probe is None and now >= self._next_probe and self.state.phase != Phase.TOOK_OVER:
            self._next_probe = now + self.config.probe_interval_s
            timeout = probe_timeout(self.config.probe_interval_s)
            self._probe = asyncio.ensure_future(self._ping(timeout))
            self._probe_sent_at = now
        await self._feed(Tick(self.clock()))

    async def _ping(self, timeout: float) -> dict[str, Any]:
        return await PeerClient.for_runtime(self.runtime).ping(timeout=timeout)

    async def _collect(self, now: float) -> None:
        probe, self._probe = self._probe, None
        assert probe is not None
        try:
            answer = probe.result()
        except PeerError as exc:
            if exc.status in REFUSING_STATUSES:
                self.probes_ok = True  # it answers
                await self._feed(machine.ProbeRefused(now, str(exc)))
                return
            self.probes_ok = False
            await self._feed(ProbeFailed(now, str(exc), self._probe_sent_at))
            return
        except Exception as exc:  # a probe bug must read as a failed probe, never kill the watch
            log.warning("probe of the primary failed unexpectedly: %r", exc)
            self.probes_ok = False
            await self._feed(ProbeFailed(now, f"unexpected error: {exc}", self._probe_sent_at))
            return
        seen = int(answer.get("epoch", 0))
        if seen > self.peer_epoch:
            self.peer_epoch = seen
            # Kept across restarts: a backup restarted while its primary is down must still take over above it.
            self.runtime.local.set(PEER_EPOCH_KEY, seen)
        store = answer.get("store_id")
        if isinstance(store, str) and store and store != self.peer_store:
            self.peer_store = store
            self.runtime.local.set(PEER_STORE_KEY, store)
        self.probes_ok = True
        await self._feed(ProbeOk(now))

    def _copy_blocker(self) -> str | None:
        state = self.runtime.local.get(SYNC_STATE_KEY) or {}
        synced = state.get("store_id") or None
        rel = self.runtime.relationship
        return machine.copy_blocker(synced, self.peer_store, rel.peer_name if rel else "the primary")

    def _witness_result(self, now: float) -> str | None:
        """The last witness verdict; starts the next check when due (every probe while the primary is silent)."""
        witnesses = self.runtime.settings.witness
        if not witnesses:
            self.witness_checked = False
            self.witness_blocker = None
            return None
        if self._witness is not None and self._witness.done():
            self.witness_blocker = None if self._witness.cancelled() else self._witness.result()
            self.witness_checked = True
            self._witness = None
        if self._witness is None and now >= self._next_witness:
            quiet = self.state.phase in (Phase.REACHABLE, Phase.IDLE)
            self._next_witness = now + (WITNESS_EVERY_S if quiet else (self.config.probe_interval_s
                                                                       if self.config else 1.0))
            self._witness = asyncio.ensure_future(witness_blocker(witnesses, WITNESS_TIMEOUT_S))
        # Until a first check answered, a configured witness blocks: never promote on an unchecked assumption.
        return self.witness_blocker if self.witness_checked else "the witness has not been checked yet"

    def _cancel_probe(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None
        if self._witness is not None:
            self._witness.cancel()
            self._witness = None

    async def _read_config(self) -> WatchConfig:
        settings = self.runtime.settings
        rel = self.runtime.relationship
        blocker = (await methods_blocker(self.runtime, await self.service.ineligible())
                   if settings.auto_failover else None)
        shared = settings.shared_address
        return WatchConfig(primary_timeout_s=settings.primary_timeout_s, probe_interval_s=settings.probe_interval_s,
                           auto_failover=settings.auto_failover, takeover_blocker=blocker, own_name=self.runtime.name,
                           peer_name=rel.peer_name if rel else "the primary",
                           address=f"{shared.address}:{shared.port}" if shared else "(none configured)")

    async def _feed(self, event: WatchEvent) -> None:
        assert self.config is not None or isinstance(event, machine.Stop)
        config = self.config or WatchConfig(primary_timeout_s=1, probe_interval_s=1, auto_failover=False)
        self.state, effects = machine.step(self.state, event, config)
        self._publish_live()
        for effect in effects:
            await self._perform(effect)

    async def _perform(self, effect: Effect) -> None:
        if isinstance(effect, Publish):
            self.runtime.bus.publish(effect.body)
        elif isinstance(effect, Mail):
            send_in_background(self.runtime, effect.key, effect.subject, effect.body)
        elif isinstance(effect, TakeOver):
            self._cancel_probe()
            await self.service.automatic_takeover(effect.reason, self.peer_epoch)
            if self.runtime.role == Role.BACKUP:
                # The takeover did not happen (the role moved meanwhile): watch afresh rather than stay "took over".
                self.state = WatchState()
                self._publish_live()
