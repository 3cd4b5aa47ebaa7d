"""FailoverService: the appliance's side of failover, whatever its role.

- as backup: the FailoverMonitor watches the primary and takes over when the state machine says so;
- as primary: serves the site on the shared address, and checks that the peer is not primary at a higher epoch
  (split brain: then it demotes itself, keeping its data aside), at start-up before serving and periodically;
- every role change (automatic, manual, split brain) holds one lock, so they never interleave.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import TYPE_CHECKING, Any

from pa_console.agent.failover import messages
from pa_console.agent.failover.authority import Fence, fence_failed, fence_of, serves_site, unfence
from pa_console.agent.failover.keep_aside import Kept, keep_diverged
from pa_console.agent.failover.mailer import send_in_background
from pa_console.agent.failover.monitor import FailoverMonitor
from pa_console.agent.failover.pause_guard import PauseGuard
from pa_console.agent.failover.takeover import RoleMoved, demote, promote
from pa_console.agent.peer.client import PeerClient, PeerError
from pa_console.agent.shared_ip.base import SharedAddressError
from pa_console.agent.shared_ip.site import SharedSite
from pa_console.agent.sync.disk import describe_storage_error
from pa_console.protocol.events import Demoted, KeepAsideFailed, SplitBrainDataKept, TakeoverStep
from pa_console.protocol.models import Role, SharedAddress

if TYPE_CHECKING:
    from pa_console.agent.runtime import AgentRuntime

log = logging.getLogger(__name__)

SERVE_RETRY_S = 1.0  # a primary that could not bind the shared address tries again this often
SERVE_CHECK_S = 5.0  # a primary that serves checks this often that it still holds the address
STARTUP_PINGS = 2  # a primary asks its peer this many times at start-up before it serves the shared address
STARTUP_CHECK_S = 6.0


KEEP_ASIDE_RETRY_S = 30.0  # a fenced appliance whose keeping aside failed tries again this often
HEARTBEAT_TIMEOUT_S = 2.0
TIE_RECHECK_S = 0.2  # a peer that answered "primary at our epoch" is asked once more after this


def guard_interval(probe_interval_s: float) -> float:
    """One probe interval: two primaries are visible for at most about this plus one heartbeat's round trip."""
    return max(0.2, probe_interval_s)


class FailoverService:
    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self.site = SharedSite(runtime)
        self.monitor = FailoverMonitor(self)
        self.transition = asyncio.Lock()
        # A role change asked on this appliance (console, API) is running: the peer's opposite request is refused at
        # once rather than left waiting for `transition` (manual.py).
        self.role_change_asked = False
        self.ready = False  # False until the start-up split-brain check is done: no serving before
        self._loop: asyncio.AbstractEventLoop | None = None
        self._monitor_wake = asyncio.Event()
        self._serve_wake = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._serve_error: str | None = None
        self._stale_checked: tuple[Role, SharedAddress] | None = None  # no need to look again for the same case
        self._keeping: asyncio.Task[Kept | None] | None = None
        self._keep_lock = asyncio.Lock()
        self.pause_guard = PauseGuard(self._confirm_after_stall)
        self._fencing: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, runtime: AgentRuntime) -> FailoverService:
        for service in runtime.services:
            if isinstance(service, cls):
                return service
        raise LookupError("the failover service is not installed")

    @property
    def changing_role(self) -> bool:
        return self.transition.locked()

    async def ineligible(self) -> str | None:
        return await self.site.ineligible()

    # -- service life ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        # Before the API answers anything: a primary returning after a failover must not even report itself
        # primary if its peer has taken over meanwhile (the check is bounded: an unreachable peer costs seconds).
        try:
            await asyncio.wait_for(self._startup_check(), STARTUP_CHECK_S)
        except TimeoutError:
            log.warning("the start-up split-brain check did not finish in %s s", STARTUP_CHECK_S)
        self.ready = True
        if self._keeping is None and await asyncio.to_thread(fence_of, self.runtime) is not None:
            self._keeping = self.runtime.spawn(self.keep_aside(), "keep-aside")  # stopped before it finished
        self.runtime.settings_listeners.append(self._changed)
        self._tasks = [self.runtime.spawn(self.monitor.run(self._monitor_wake), "failover-monitor"),
                       self.runtime.spawn(self._serve_loop(), "failover-shared-address"),
                       self.runtime.spawn(self._guard_loop(), "failover-split-brain-guard"),
                       self.runtime.spawn(self.pause_guard.run(), "failover-pause-guard")]

    async def stop(self) -> None:
        if self._changed in self.runtime.settings_listeners:
            self.runtime.settings_listeners.remove(self._changed)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # A stopped agent serves nothing: the address goes with it (the other appliance may need it).
        try:
            await self.site.withdraw()
        except SharedAddressError as exc:
            log.warning("releasing the shared address at stop: %s", exc)

    def _changed(self) -> None:
        """Settings, role or relationship changed; may be called from a worker thread (sync route handlers)."""
        def wake() -> None:
            self.monitor.settings_changed()
            self._monitor_wake.set()
            self._serve_wake.set()

        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(wake)

    # -- the primary's shared address -------------------------------------------------------------------------------
    async def _serve_loop(self) -> None:
        while True:
            try:
                delay = await self.reconcile_serving()
            except Exception:
                log.exception("keeping the shared address in line with the role failed")
                delay = SERVE_CHECK_S
            try:
                await asyncio.wait_for(self._serve_wake.wait(), delay)
            except TimeoutError:
                pass
            self._serve_wake.clear()

    async def reconcile_serving(self) -> float:
        """Serve the shared address exactly while primary. Returns when to look again."""
        if self.changing_role:
            return SERVE_RETRY_S  # the role change serves or withdraws itself
        shared = self.runtime.settings.shared_address
        role = self.runtime.role
        if not await asyncio.to_thread(serves_site, self.runtime) or shared is None:
            if self.site.serving:
                await self.site.withdraw()
            if shared is not None and self._stale_checked != (role, shared):
                self._stale_checked = (role, shared)
                try:
                    released = await self.site.release_stale(shared)
                except SharedAddressError as exc:
                    released = f"could not release it: {exc}"
                if released:
                    log.warning("the shared address was still held by this %s: %s", role, released)
                    self.runtime.bus.publish(TakeoverStep(step="release_stale_shared_address",
                                                          ok="could not" not in released, detail=released))
            return SERVE_CHECK_S
        self._stale_checked = None
        if self.site.serving_config == shared:
            if await self.site.still_held():
                return SERVE_CHECK_S
            log.warning("the shared address is no longer held here; claiming it again")
            await self.site.withdraw()
        try:
            await self.site.serve(shared)
        except SharedAddressError as exc:
            if str(exc) != self._serve_error:  # report each distinct problem once, not every second
                self._serve_error = str(exc)
                self.runtime.bus.publish(TakeoverStep(step="shared_address", ok=False, detail=str(exc)))
            return SERVE_RETRY_S
        self._serve_error = None
        return SERVE_CHECK_S

    # -- split brain ------------------------------------------------------------------------------------------------
    async def _startup_check(self) -> None:
        if self.runtime.role != Role.PRIMARY or self.runtime.relationship is None:
            return
        for _ in range(STARTUP_PINGS):
            if await self.check_peer() is not None:
                return

    async def _guard_loop(self) -> None:
        """As primary: a heartbeat to the backup every probe interval (its answer carries its role and epoch, so a
        primary that ran again after a pause learns within one interval that it was replaced, and fences). Also
        retries keeping aside the data of a fence that failed."""
        next_retry = 0.0
        while True:
            await asyncio.sleep(guard_interval(self.runtime.settings.probe_interval_s))
            loop_now = asyncio.get_running_loop().time()
            if self.ready and self.runtime.role == Role.PRIMARY and self.runtime.relationship is not None:
                try:
                    await self.check_peer()
                except Exception:
                    log.exception("split-brain check failed")
            elif loop_now >= next_retry and (self._keeping is None or self._keeping.done()):
                record = await asyncio.to_thread(fence_of, self.runtime)
                if record is not None:
                    next_retry = loop_now + KEEP_ASIDE_RETRY_S
                    self._keeping = self.runtime.spawn(self.keep_aside(), "keep-aside")

    def peer_says_primary(self, peer_epoch: int) -> None:
        """A heartbeat came from the peer saying it is primary at a higher epoch than ours (called from a worker
        thread). Epochs only rise with takeovers, and a planned swap steps this side down before the other rises,
        so this is a split brain: fence now. Before, only the answers to our own heartbeats could tell us; when
        those fail (a one-way cut, or still waiting out a timeout from a partition that just healed), the two
        primaries went on while the peer's heartbeats were arriving with the news."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._fence_for, peer_epoch)

    def _fence_for(self, peer_epoch: int) -> None:
        role, own = self.runtime.role_epoch()
        if not self.ready or role != Role.PRIMARY or peer_epoch <= own:
            return
        if self._fencing is None or self._fencing.done():
            rel = self.runtime.relationship
            self._fencing = self.runtime.spawn(
                self.split_brain_demote(rel.peer_name if rel else "the peer", peer_epoch), "split-brain-fence")

    async def _confirm_after_stall(self) -> None:
        """The pause guard's question (pause_guard.py): as primary in a relationship, one heartbeat, bounded."""
        if not (self.ready and self.runtime.role == Role.PRIMARY and self.runtime.relationship is not None):
            return
        # Shielded: a fence that has begun must finish (release the address, keep aside) even if the wait ends.
        check = asyncio.ensure_future(self.check_peer())
        try:
            await asyncio.wait_for(asyncio.shield(check), 2 * HEARTBEAT_TIMEOUT_S + TIE_RECHECK_S + 1)
        except TimeoutError:
            log.warning("the backup did not confirm in time after a stall; writes go on")

    async def check_peer(self) -> dict[str, Any] | None:
        """As primary: tell the peer we live (a heartbeat) and learn its role and epoch; fence if it is primary at
        a higher epoch. None: no answer."""
        answer = await self._heartbeat()
        if answer is None:
            return None
        role, own = self.runtime.role_epoch()
        if role != Role.PRIMARY or answer.get("role") != Role.PRIMARY.value:
            return answer
        peer_epoch = int(answer.get("epoch", 0))
        if peer_epoch == own:
            # Role changes raise the epoch, so two primaries at one epoch should not exist; ask once more before
            # yielding on a tie (an answer given while the peer was changing role must not make us step down).
            await asyncio.sleep(TIE_RECHECK_S)
            again = await self._heartbeat()
            if again is None or again.get("role") != Role.PRIMARY.value:
                return again
            answer, peer_epoch = again, int(again.get("epoch", 0))
            role, own = self.runtime.role_epoch()
            if role != Role.PRIMARY:
                return answer
        if self._peer_wins(peer_epoch, own):
            await self.split_brain_demote(str(answer.get("name", "the peer")), peer_epoch)
        return answer

    async def _heartbeat(self) -> dict[str, Any] | None:
        rt = self.runtime
        client = PeerClient.for_runtime(rt)
        role, epoch = rt.role_epoch()
        try:
            answer: dict[str, Any] = await client.request(
                "POST", "/peer/heartbeat", json={"name": rt.name, "role": role.value, "epoch": epoch},
                timeout=HEARTBEAT_TIMEOUT_S)
        except PeerError as exc:
            if exc.status != 404:  # 404: an older peer without heartbeats; ask the old way
                return None
            try:
                answer = await client.ping(timeout=HEARTBEAT_TIMEOUT_S)
            except PeerError:
                return None
        return answer

    def _peer_wins(self, peer_epoch: int, own: int) -> bool:
        if peer_epoch != own:
            return peer_epoch > own
        # Equal epochs cannot come from our own role changes, but be deterministic anyway: both sides compare the
        # same two fingerprints, so exactly one of them yields.
        rel = self.runtime.relationship
        return (rel.peer_fingerprint if rel else "") > self.runtime.identity.fingerprint

    async def split_brain_demote(self, peer_name: str, peer_epoch: int) -> None:
        async with self.transition:
            if self.runtime.role != Role.PRIMARY:
                return
            await self.step_down(f"split brain: {peer_name} is primary at epoch {peer_epoch}, this appliance was "
                                 f"at {self.runtime.epoch}", peer_epoch, peer_name, split_brain=True)

    async def step_down(self, reason: str, peer_epoch: int = 0, peer: str | None = None,
                        split_brain: bool = False) -> Fence:
        """Fence (role, epoch: one transaction), release the address, then keep aside what diverged in the
        background. The caller holds `transition`."""
        rel = self.runtime.relationship
        record = await demote(self.runtime, self.site, reason, peer_epoch,
                              peer or (rel.peer_name if rel else "the peer"))
        self._keeping = self.runtime.spawn(self.keep_aside(split_brain), "keep-aside")
        return record

    async def keep_aside(self, split_brain: bool = True) -> Kept | None:
        """Keep aside exactly what diverged, then lift the fence; on failure stay fenced, untouched, and say so."""
        async with self._keep_lock:  # one at a time: a second would keep the same rows twice
            return await self._keep_aside(split_brain)

    async def _keep_aside(self, split_brain: bool) -> Kept | None:
        runtime = self.runtime
        record = await asyncio.to_thread(fence_of, runtime)
        if record is None:
            return None
        try:
            kept = await asyncio.to_thread(keep_diverged, runtime.db.path, runtime.identity.data_dir.root,
                                           runtime.name, record.previous_epoch, record.since_seq)
        except (OSError, sqlite3.Error) as exc:
            error = describe_storage_error(exc, runtime.identity.data_dir.root)
            log.error("could not keep aside the diverged site data: %s", error)
            failed = await asyncio.to_thread(fence_failed, runtime, error)
            if failed is not None and failed.error != record.error:  # loud once per distinct problem, not each retry
                runtime.bus.publish(KeepAsideFailed(peer=record.peer, since_seq=record.since_seq, error=error,
                                                    detail=failed.sentence()))
                send_in_background(runtime, "keep_aside_failed",
                                   f"[pa] {runtime.name} is FENCED: its data could not be kept aside",
                                   failed.sentence() + "\n")
            return None
        await asyncio.to_thread(unfence, runtime)
        if kept.path is not None:
            runtime.bus.publish(SplitBrainDataKept(
                path=str(kept.path), last_seq=kept.upto_seq, since_seq=kept.since_seq, rows=kept.rows,
                detail=f"The {kept.total} changes written on this appliance after change {kept.since_seq} (the "
                       "last its peer confirmed) are kept aside; the next sync replaces the live copy with the "
                       "primary's."))
        if split_brain:
            kept_text = str(kept.path) if kept.path else None
            runtime.bus.publish(Demoted(peer=record.peer, peer_epoch=record.peer_epoch,
                                        previous_epoch=record.previous_epoch, epoch=record.epoch, kept=kept_text,
                                        diverged=kept.rows))
            subject, body = messages.demoted(runtime.name, record.peer, record.previous_epoch, record.peer_epoch,
                                             kept_text)
            send_in_background(runtime, "demoted", subject, body)
        return kept

    # -- takeover ---------------------------------------------------------------------------------------------------
    async def automatic_takeover(self, reason: str, peer_epoch: int) -> None:
        async with self.transition:
            if self.runtime.role != Role.BACKUP:
                return
            try:
                _, steps = await promote(self.runtime, self.site, reason, peer_epoch + 1,
                                         expected_epoch=self.runtime.epoch, how="automatic")
            except RoleMoved as exc:
                log.warning("automatic takeover abandoned: %s", exc)
                return
        rel = self.runtime.relationship
        subject, body = messages.takeover(self.runtime.name, rel.peer_name if rel else "the old primary", reason,
                                          [s.as_tuple() for s in steps])
        send_in_background(self.runtime, "takeover", subject, body)
