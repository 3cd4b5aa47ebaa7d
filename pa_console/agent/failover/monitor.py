"""FailoverMonitor: on a backup, probes the primary and performs what the watch's state machine decides."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pa_console.agent.failover import machine
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
from pa_console.agent.peer.client import PeerClient, PeerError
from pa_console.agent.takeover_methods.runner import methods_blocker
from pa_console.protocol.models import Role

if TYPE_CHECKING:
    from pa_console.agent.failover.service import FailoverService

log = logging.getLogger(__name__)

TICK_S = 0.2  # how often time is fed to the machine: countdown events land within this of each whole second
ELIGIBILITY_TTL_S = 30.0  # the shared-address check runs commands; re-check this often (and on any change)


PEER_EPOCH_KEY = "failover_peer_epoch"  # in the appliance's local (never synchronised) state


def probe_timeout(probe_interval_s: float) -> float:
    """Short, so that a dead primary is noticed quickly, yet not so short that a busy one looks dead."""
    return min(3.0, max(1.0, 2 * probe_interval_s))


class FailoverMonitor:
    def __init__(self, service: FailoverService, clock: Callable[[], float] = time.monotonic) -> None:
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

    # -- live fields read by health() ------------------------------------------------------------------------------
    def seconds_left(self) -> float | None:
        if self.config is None:
            return None
        left = self.state.seconds_left(self.clock(), self.config)
        return None if left is None else round(left, 1)

    def _publish_live(self) -> None:
        self.runtime.primary_reachable = self.state.primary_reachable
        self.runtime.awaiting_manual_failover = self.state.phase == Phase.AWAITING_MANUAL

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
        if self.state.phase == Phase.IDLE:
            await self._feed(machine.Start(now))
            self._next_probe = now
        elif config_changed:
            await self._feed(machine.ConfigChanged(now))
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
            await self._feed(ProbeFailed(now, str(exc), self._probe_sent_at))
            return
        except Exception as exc:  # a probe bug must read as a failed probe, never kill the watch
            log.warning("probe of the primary failed unexpectedly: %r", exc)
            await self._feed(ProbeFailed(now, f"unexpected error: {exc}", self._probe_sent_at))
            return
        seen = int(answer.get("epoch", 0))
        if seen > self.peer_epoch:
            self.peer_epoch = seen
            # Kept across restarts: a backup restarted while its primary is down must still take over above it.
            self.runtime.local.set(PEER_EPOCH_KEY, seen)
        await self._feed(ProbeOk(now))

    def _cancel_probe(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None

    async def _read_config(self) -> WatchConfig:
        settings = self.runtime.settings
        rel = self.runtime.relationship or {}
        blocker = (await methods_blocker(self.runtime, await self.service.site.ineligible())
                   if settings.auto_failover else None)
        shared = settings.shared_address
        return WatchConfig(primary_timeout_s=settings.primary_timeout_s, probe_interval_s=settings.probe_interval_s,
                           auto_failover=settings.auto_failover, takeover_blocker=blocker, own_name=self.runtime.name,
                           peer_name=str(rel.get("peer_name", "the primary")),
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
