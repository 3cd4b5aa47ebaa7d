"""ApplianceState: everything the console knows about one appliance, updated from polls and events."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pydantic

from pa_console.console.state.observable import Signal
from pa_console.console.state.status import ConnectionStatus
from pa_console.protocol.models import (
    EmailConfig,
    Event,
    EventType,
    FailoverSettings,
    Health,
    RelationshipInfo,
    Role,
    SyncProgress,
    SyncReport,
    SyncStatus,
    TakeoverMethodCheck,
)

# Events after which the monitor re-reads parts of the agent's state (the events only carry the gist).
REFRESH_ON: dict[str, frozenset[str]] = {
    EventType.RELATIONSHIP_ESTABLISHED: frozenset({"health", "relationship", "settings"}),
    EventType.RELATIONSHIP_BROKEN: frozenset({"health", "relationship"}),
    EventType.ROLE_CHANGED: frozenset({"health", "relationship"}),
    EventType.TAKEOVER: frozenset({"health"}),
    EventType.DEMOTED: frozenset({"health"}),
    EventType.SETTINGS_CHANGED: frozenset({"settings", "health"}),
    EventType.EMAIL_CHANGED: frozenset({"email"}),
    EventType.KEY_CHANGED: frozenset({"key"}),
    EventType.SYNC_FINISHED: frozenset({"health"}),
    EventType.SYNC_FAILED: frozenset({"health"}),
}


@dataclass(frozen=True)
class ApplianceRef:
    """How the console reaches an appliance (from the settings file)."""

    id: str
    name: str
    host: str
    port: int
    cert_fingerprint: str

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class ApplianceState:
    """Observable state of one appliance. `changed` carries the name of what changed."""

    def __init__(self, ref: ApplianceRef, *, clock: Callable[[], float] = time.monotonic, keep: int = 10_000):
        self.ref = ref
        self._clock = clock
        self.status = ConnectionStatus.CONNECTING
        self.status_detail = "Connecting…"
        self.health: Health | None = None
        self.settings: FailoverSettings | None = None
        # The last POST failover/methods/check answer (issue #9): None until checked.
        self.method_checks: list[TakeoverMethodCheck] | None = None
        self.key_fingerprint: str | None = None
        self.email: EmailConfig | None = None
        self.relationship: RelationshipInfo | None = None
        self.progress: SyncProgress | None = None
        self.last_report: SyncReport | None = None
        self.countdown_deadline: float | None = None
        self.events: deque[Event] = deque(maxlen=keep)
        self.last_event_id = 0
        self.changed: Signal[str] = Signal()
        self.event_received: Signal[Event] = Signal()

    # -- derived --------
    @property
    def id(self) -> str:
        return self.ref.id

    @property
    def name(self) -> str:
        if self.health is not None and self.health.name:
            return self.health.name
        return self.ref.name

    @property
    def role(self) -> Role | None:
        return self.health.role if self.health is not None else None

    @property
    def is_backup(self) -> bool:
        return self.role == Role.BACKUP

    def countdown_left(self) -> float | None:
        if self.countdown_deadline is None:
            return None
        return max(0.0, self.countdown_deadline - self._clock())

    @property
    def awaiting_manual_failover(self) -> bool:
        return self.health is not None and self.health.awaiting_manual_failover

    # -- updates --------
    def set_status(self, status: ConnectionStatus, detail: str = "") -> None:
        if status == self.status and detail == self.status_detail:
            return
        self.status = status
        self.status_detail = detail or status.label
        self.changed.emit("status")

    def set_health(self, health: Health) -> None:
        self.health = health
        if health.failover_in_s is not None:
            self.countdown_deadline = self._clock() + health.failover_in_s
        else:
            self.countdown_deadline = None
        if health.last_sync is not None:
            self.last_report = health.last_sync
        if health.last_sync_status != SyncStatus.RUNNING:
            self.progress = None
        elif health.sync_progress is not None and self.progress is None:
            self.progress = health.sync_progress
        if health.key_fingerprint:
            self.key_fingerprint = health.key_fingerprint
        self.changed.emit("health")

    def set_settings(self, settings: FailoverSettings) -> None:
        before = self.settings
        if before is None or (before.dns_swing, before.nat_swing, before.shared_address) != (
            settings.dns_swing, settings.nat_swing, settings.shared_address
        ):
            self.method_checks = None  # a check of other settings says nothing about these
        self.settings = settings
        self.changed.emit("settings")

    def set_method_checks(self, checks: list[TakeoverMethodCheck] | None) -> None:
        self.method_checks = checks
        self.changed.emit("method_checks")

    def set_key_fingerprint(self, fingerprint: str) -> None:
        self.key_fingerprint = fingerprint
        self.changed.emit("key")

    def set_email(self, email: EmailConfig) -> None:
        self.email = email
        self.changed.emit("email")

    def set_relationship(self, relationship: RelationshipInfo | None) -> None:
        self.relationship = relationship
        self.changed.emit("relationship")

    def set_progress(self, progress: SyncProgress | None) -> None:
        self.progress = progress
        self.changed.emit("progress")

    def _patch_health(self, **fields: object) -> None:
        if self.health is not None:
            self.health = self.health.model_copy(update=fields)

    def apply_event(self, event: Event) -> SyncProgress | None:
        """Fold an event into the state. Returns a SyncProgress to be delivered (coalesced) by the caller."""
        if event.id > self.last_event_id:
            self.last_event_id = event.id
        self.events.append(event)
        self.event_received.emit(event)
        data = event.data
        kind = event.type
        if kind == EventType.SYNC_PROGRESS:
            try:
                return SyncProgress.model_validate(data)
            except pydantic.ValidationError:
                return None
        if kind == EventType.SYNC_STARTED:
            self._patch_health(last_sync_status=SyncStatus.RUNNING)
            self.progress = SyncProgress(phase=str(data.get("phase", "starting")))
            self.changed.emit("progress")
        elif kind in (EventType.SYNC_FINISHED, EventType.SYNC_FAILED):
            self._apply_report(event)
        elif kind == EventType.COUNTDOWN:
            left = data.get("failover_in_s")
            if isinstance(left, int | float):
                self.countdown_deadline = self._clock() + float(left)
                self._patch_health(
                    failover_in_s=float(left),
                    primary_reachable=False,
                    auto_failover=bool(data.get("auto_failover", self.health and self.health.auto_failover)),
                )
                self.changed.emit("countdown")
        elif kind == EventType.PRIMARY_LOST:
            self._patch_health(primary_reachable=False)
            self.changed.emit("health")
        elif kind == EventType.AWAITING_MANUAL_FAILOVER:
            self.countdown_deadline = None
            self._patch_health(awaiting_manual_failover=True, failover_in_s=None, primary_reachable=False)
            self.changed.emit("countdown")
        elif kind == EventType.PRIMARY_RECOVERED:
            self.countdown_deadline = None
            self._patch_health(primary_reachable=True, failover_in_s=None, awaiting_manual_failover=False)
            self.changed.emit("countdown")
        elif kind in (EventType.ROLE_CHANGED, EventType.TAKEOVER, EventType.DEMOTED):
            self._apply_role(event)
        return None

    def _apply_report(self, event: Event) -> None:
        try:
            report = SyncReport.model_validate(event.data)
        except pydantic.ValidationError:
            report = None
        status = SyncStatus.OK if event.type == EventType.SYNC_FINISHED else SyncStatus.FAILED
        if report is not None:
            self.last_report = report
            self._patch_health(last_sync_status=report.status, last_sync_at=report.finished_at or event.ts)
        else:
            self._patch_health(last_sync_status=status, last_sync_at=event.ts)
        self.progress = None
        self.changed.emit("sync")

    def _apply_role(self, event: Event) -> None:
        fields: dict[str, object] = {}
        role = event.data.get("role")
        if event.type == EventType.TAKEOVER:
            role = role or Role.PRIMARY
        if event.type == EventType.DEMOTED:
            role = role or Role.BACKUP
        if role in {r.value for r in Role}:
            fields["role"] = Role(str(role))
            if event.type == EventType.ROLE_CHANGED:
                fields["relationship_established"] = fields["role"] != Role.STANDALONE
        epoch = event.data.get("epoch")
        if isinstance(epoch, int):
            fields["epoch"] = epoch
        if event.type == EventType.TAKEOVER or fields.get("role") == Role.PRIMARY:
            fields.update(failover_in_s=None, awaiting_manual_failover=False, primary_reachable=None)
            self.countdown_deadline = None
        self._patch_health(**fields)
        self.changed.emit("health")

    def clear_failover(self) -> None:
        """After the relationship is broken: forget what belonged to it."""
        self.relationship = None
        self.progress = None
        self.countdown_deadline = None
        self.changed.emit("relationship")

    def last_sync_at(self) -> datetime | None:
        return self.health.last_sync_at if self.health is not None else None
