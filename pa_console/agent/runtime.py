"""One running agent: its identity, stores, event bus, settings and state, and the background services.

Built by a factory, never at import time, so that two agents can run side by side in one process."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson

from pa_console.agent.eventbus import EventBus
from pa_console.agent.failover.authority import Fence
from pa_console.agent.failover.machine import copy_blocker
from pa_console.agent.failover.record import RelationshipRecord
from pa_console.agent.failover.witness import WatchStatus
from pa_console.agent.identity import Identity
from pa_console.agent.peer.handshake import PendingHandshakes
from pa_console.agent.store.db import Database
from pa_console.agent.store.events import EventLog
from pa_console.agent.store.local import LocalStore
from pa_console.agent.store.site import SiteStore
from pa_console.protocol.constants import PRODUCT_VERSION, SCHEMA_VERSION
from pa_console.protocol.events import AgentStarted
from pa_console.protocol.models import (
    FailoverSettings,
    Health,
    PeerSummary,
    Role,
    SyncReport,
    SyncStatus,
)

log = logging.getLogger(__name__)

SETTINGS_KEY = "failover_settings"  # this appliance's failover settings in the local store (never synchronised)


class Service(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class AgentRuntime:
    def __init__(self, identity: Identity, db: Database) -> None:
        self.identity = identity
        self.db = db
        self.site = SiteStore(db)
        self.local = LocalStore(db)
        self.bus = EventBus(EventLog(db))
        self.services: list[Service] = []
        self.listen: str | None = None
        # Filled by the failover monitor and sync engine while they run (live, not persisted).
        self.primary_reachable: bool | None = None
        self.failover_in_s: Callable[[], float | None] = lambda: None
        self.awaiting_manual_failover = False
        self.serving_shared_address = False
        self.last_heartbeat_at: float | None = None  # monotonic time the primary's last heartbeat arrived
        self.watch_status = WatchStatus()
        self.sync_progress: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.settings_listeners: list[Callable[[], None]] = []
        self.sync_engine: Any = None
        self.sync_scheduler: Any = None
        self.no_pull_alert: Any = None
        self.scrub: Any = None  # the scrub service (pa_console.agent.scrub.service), for POST /site/verify
        self.handshakes = PendingHandshakes()
        # An establish or break runs on this appliance (relationship.changing): a second one, or the peer's half of
        # one asked on the other appliance, is refused at once instead of racing it.
        self.relationship_changing = False

    # -- persisted state ----------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.identity.name

    @property
    def role(self) -> Role:
        return Role(self.local.get("role", Role.STANDALONE.value))

    @property
    def epoch(self) -> int:
        return int(self.local.get("epoch", 0))

    def role_epoch(self) -> tuple[Role, int]:
        """Role and epoch as one committed pair. Read one after the other, a fence (role and epoch in one
        transaction) committing in between gave "primary at the new epoch": a peer that heard that at its own epoch
        broke the tie by fingerprint and could step down, leaving the pair with no primary (seen under load)."""
        rows = dict(self.db.connect().execute(
            "SELECT key, value FROM local WHERE key IN ('role', 'epoch')").fetchall())  # one statement: one snapshot
        role = Role(orjson.loads(rows["role"])) if "role" in rows else Role.STANDALONE
        return role, int(orjson.loads(rows["epoch"])) if "epoch" in rows else 0

    def heartbeat_seen(self, epoch: int) -> None:
        """The primary's heartbeat arrived (may be called from a worker thread: one assignment)."""
        del epoch
        self.last_heartbeat_at = time.monotonic()

    def copy_state(self) -> tuple[bool, str]:
        """A backup's copy: (complete, one sentence saying what a takeover would serve). Role, epoch and the
        relationship are changed only by `failover.authority`; this only reads."""
        rel = self.relationship
        peer = rel.peer_name if rel else "the primary"
        synced = (self.local.get("sync_state") or {}).get("store_id") or None
        blocker = copy_blocker(synced, self.local.get("failover_peer_store"), peer)
        if blocker is not None:
            return False, blocker[0].upper() + blocker[1:] + "."
        at = self.local.get("last_sync_ok_at")
        # Said to people (console, mails): the time as they read it, not ISO 8601 with microseconds.
        when = f" ({dt.datetime.fromisoformat(at).strftime('%Y-%m-%d %H:%M:%S UTC')})" if at else ""
        return True, (f"This backup holds a complete, verified copy of {peer}'s site data as of its last completed "
                      f"sync{when}.")

    @property
    def settings(self) -> FailoverSettings:
        raw = self.local.get(SETTINGS_KEY)
        return FailoverSettings.model_validate(raw) if raw else FailoverSettings()

    def save_settings(self, settings: FailoverSettings) -> None:
        self.local.set(SETTINGS_KEY, settings.model_dump(mode="json"))

    @property
    def relationship(self) -> RelationshipRecord | None:
        """The relationship, typed (written only by `failover.authority`, with role and epoch)."""
        return RelationshipRecord.from_local(self.local.get("relationship"))

    def peer_summary(self) -> PeerSummary | None:
        rel = self.relationship
        return None if rel is None else rel.summary()

    @property
    def last_sync(self) -> SyncReport | None:
        raw = self.local.get("last_sync")
        return SyncReport.model_validate(raw) if raw else None

    def health(self) -> Health:
        last = self.last_sync
        role, epoch = self.role_epoch()
        settings = self.settings
        progress = self.sync_progress
        status = SyncStatus.RUNNING if progress is not None else (last.status if last else SyncStatus.NEVER)
        last_ok_at = self.local.get("last_sync_ok_at")
        return Health(
            name=self.name,
            version=PRODUCT_VERSION,
            role=role,
            relationship_established=self.relationship is not None,
            sync_enabled=settings.sync_enabled,
            last_sync_at=dt.datetime.fromisoformat(last_ok_at) if last_ok_at else None,
            last_sync_status=status,
            primary_reachable=self.primary_reachable if role == Role.BACKUP else None,
            failover_in_s=self.failover_in_s() if role == Role.BACKUP else None,
            epoch=epoch,
            schema_version=SCHEMA_VERSION,
            fingerprint_sha256=self.identity.fingerprint,
            key_fingerprint=self.identity.key_fingerprint(),
            peer=self.peer_summary(),
            awaiting_manual_failover=self.awaiting_manual_failover and role == Role.BACKUP,
            auto_failover=settings.auto_failover,
            last_sync=last,
            sync_progress=progress,
            serving_shared_address=self.serving_shared_address,
            **self._failover_facts(role),
        )

    def _failover_facts(self, role: Role) -> dict[str, Any]:
        facts: dict[str, Any] = {}
        fence = self.local.get("fence")
        if fence:
            facts["fenced"] = Fence(**fence).sentence()
        if role != Role.BACKUP or self.relationship is None:
            return facts
        complete, detail = self.copy_state()
        watch = self.watch_status
        heard = self.last_heartbeat_at
        # Read live, not from the watch's last tick: a health read right after a sync must not still say "no copy".
        copy_reason = None if complete else detail[0].lower() + detail[1:].rstrip(".")
        witness_reason = watch.witness_detail if watch.witness_ok is False else None
        return facts | {
            "copy_complete": complete, "copy_detail": detail,
            "auto_takeover_blocked": watch.method_blocker or copy_reason or witness_reason,
            "primary_refused": watch.primary_refused, "probes_ok": watch.probes_ok,
            "witness_ok": watch.witness_ok, "witness_detail": watch.witness_detail,
            "heartbeat_age_s": None if heard is None else round(time.monotonic() - heard, 1)}

    def settings_changed(self) -> None:
        """Wake the services that depend on the failover settings (scheduler, monitor)."""
        for listener in self.settings_listeners:
            listener()

    def relationship_changed(self) -> None:
        """Relationship or role changed: the services re-read it (same listeners as settings)."""
        self.settings_changed()

    # -- background work -----------------------------------------------------------------------------------------
    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        """Run a coroutine in the background, keeping a reference and logging (not losing) its failure."""
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task %s failed: %r", name, t.exception())

        task.add_done_callback(done)
        return task

    async def start(self) -> None:
        self.bus.bind(asyncio.get_running_loop())
        self.bus.publish(AgentStarted(name=self.name, version=PRODUCT_VERSION, role=self.role.value))
        for service in self.services:
            await service.start()

    async def stop(self) -> None:
        for service in reversed(self.services):
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %r failed", service)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self.bus.flush)
