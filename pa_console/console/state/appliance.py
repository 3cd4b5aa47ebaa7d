"""ApplianceState: everything the console knows about one appliance, updated from polls and events."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pa_console.console.state.notifier import takeover_words
from pa_console.console.state.observable import Signal
from pa_console.console.state.status import ConnectionStatus
from pa_console.protocol.events import (
    AwaitingManualFailover,
    Countdown,
    Demoted,
    Fenced,
    KeepAsideFailed,
    PrimaryLost,
    PrimaryRecovered,
    PrimaryRefused,
    RelationshipBroken,
    RelationshipEstablished,
    RoleChanged,
    SyncFailed,
    SyncFinished,
    SyncProgressed,
    SyncStarted,
    Takeover,
    TakeoverBlocked,
)
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
    # A new primary's email settings are what it received by sync: read them again (a backup's are not read).
    EventType.ROLE_CHANGED: frozenset({"health", "relationship", "email"}),
    EventType.TAKEOVER: frozenset({"health", "email"}),
    EventType.DEMOTED: frozenset({"health"}),
    EventType.SETTINGS_CHANGED: frozenset({"settings", "health"}),
    EventType.EMAIL_CHANGED: frozenset({"email"}),
    EventType.KEY_CHANGED: frozenset({"key"}),
    EventType.SYNC_FINISHED: frozenset({"health"}),
    EventType.SYNC_FAILED: frozenset({"health"}),
}


@dataclass(frozen=True)
class RoleNews:
    key: str
    title: str
    body: str
    serious: bool  # a forced or automatic takeover, a demotion (rather than a planned swap)


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
        # One clock for the failover countdown: every view reads countdown_left() (issue 15: banner, diagram,
        # takeover box and notification show the same second). Set from the agent's failover_in_s on arrival.
        self.countdown_deadline: float | None = None
        # What the agent said will happen when the countdown ends (action, takeover_blocked), and why the primary
        # was lost (the agent's `error`), and why no takeover happened (awaiting manual failover).
        self.failover_outlook: Countdown | None = None
        self.lost_reason: str | None = None
        self.manual_reason: str | None = None
        # The last role change worth a banner (a takeover, a demotion), until the relationship changes.
        self.news: RoleNews | None = None
        # Issue 13's events, when the agent sends them: why a takeover is blocked (None: it is not, or not said),
        # what a primary that refuses the relationship answered, and a fence that could not be resolved.
        self.blocked_reason: str | None = None
        self.refused: str | None = None
        self.fence_problem: str | None = None
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

    def role_label(self) -> str:
        """The role as the console can vouch for it: an appliance it cannot reach shows its last known role."""
        if self.role is None:
            return "unknown"
        if self.status != ConnectionStatus.ONLINE:
            # After a takeover, two boxes reading "primary" would alarm for nothing: say what is known.
            return f"{self.role.value} (last known)"
        return self.role.value

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
            self._set_deadline(health.failover_in_s)
        else:
            self.countdown_deadline = None
            if health.primary_reachable is not False and not health.awaiting_manual_failover:
                self._end_incident()  # the agent says the incident is over (an event may have been missed)
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
        match event.body:
            case SyncProgressed() as body:
                return body.progress()
            case SyncStarted():
                self._patch_health(last_sync_status=SyncStatus.RUNNING)
                self.progress = SyncProgress(phase="starting")
                self.changed.emit("progress")
            case SyncFinished() | SyncFailed() as body:
                self._apply_report(body.report(), event)
            case Countdown() as body:
                self._set_deadline(body.failover_in_s)
                self.failover_outlook = body
                self._patch_health(failover_in_s=body.failover_in_s, primary_reachable=False,
                                   auto_failover=body.auto_failover, awaiting_manual_failover=False)
                self.changed.emit("countdown")
            case PrimaryLost() as body:
                self.news = None
                self.lost_reason = body.error or None
                if body.failover_in_s is not None:
                    self._set_deadline(body.failover_in_s)
                    self.failover_outlook = Countdown(failover_in_s=body.failover_in_s,
                                                      auto_failover=body.auto_failover, action=body.action,
                                                      takeover_blocked=body.takeover_blocked)
                self._patch_health(primary_reachable=False, auto_failover=body.auto_failover)
                self.changed.emit("countdown")
            case AwaitingManualFailover() as body:
                self.countdown_deadline = None
                self.manual_reason = body.reason or None
                self._patch_health(awaiting_manual_failover=True, failover_in_s=None, primary_reachable=False)
                self.changed.emit("countdown")
            case PrimaryRecovered():
                self._end_incident()
                self._patch_health(primary_reachable=True, failover_in_s=None, awaiting_manual_failover=False)
                self.changed.emit("countdown")
            case RoleChanged() as body:
                self._apply_role(_role(body.role), body.epoch, standalone_known=True)
            case Takeover() as body:
                self._apply_role(_role(body.role) or Role.PRIMARY, body.epoch)
                title, text = takeover_words(self.name, body)
                serious = body.how != "planned" or not body.ok
                self.news = RoleNews(f"takeover/{body.epoch}", title, text, serious=serious)
            case Demoted() as body:
                self._apply_role(Role.BACKUP, body.epoch)
                self.news = RoleNews(f"demoted/{body.epoch}", f"{self.name} demoted itself to backup",
                                     f"It found that {body.peer or 'its peer'} had been made primary while it was away "
                                     "(a newer epoch), and stepped down.", serious=True)
            case TakeoverBlocked() as body:
                self.blocked_reason = (body.reason or "the backup says it cannot take over") if body.blocked else None
                self.changed.emit("countdown")
            case PrimaryRefused() as body:
                self.refused = (body.detail or body.said or "the primary refused") if body.refused else None
                self.changed.emit("health")
            case Fenced() as body:
                self._apply_role(Role.BACKUP, body.epoch)
                self.news = RoleNews(f"fenced/{body.epoch}", f"{self.name} stepped down to backup (fenced)",
                                     f"{body.peer or 'Its peer'} is primary at a higher epoch"
                                     + (f" ({body.peer_epoch})" if body.peer_epoch is not None else "") + ".",
                                     serious=True)
            case KeepAsideFailed() as body:
                self.fence_problem = body.detail or body.error or "the diverged data could not be kept aside"
                self.changed.emit("health")
            case RelationshipBroken() | RelationshipEstablished():
                self.news = None  # a takeover's news ends with the relationship it happened in
                self.changed.emit("news")
            case _:
                pass
        return None

    def _set_deadline(self, left_s: float) -> None:
        """The agent's deadline on this console's clock. Ticks carry whole seconds rounded up and polls the exact
        figure, each a little late: the earliest estimate within a second and a half is kept, so the countdown
        never steps back a second between two of them."""
        new = self._clock() + left_s
        old = self.countdown_deadline
        self.countdown_deadline = min(old, new) if old is not None and abs(old - new) < 1.5 else new

    def _end_incident(self) -> None:
        self.countdown_deadline = None
        self.failover_outlook = None
        self.lost_reason = None
        self.manual_reason = None

    def _apply_report(self, report: SyncReport, event: Event) -> None:
        self.last_report = report
        self._patch_health(last_sync_status=report.status, last_sync_at=report.finished_at or event.ts)
        self.progress = None
        self.changed.emit("sync")

    def _apply_role(self, role: Role | None, epoch: int | None, *, standalone_known: bool = False) -> None:
        fields: dict[str, object] = {}
        if role is not None:
            fields["role"] = role
            if standalone_known:
                fields["relationship_established"] = role != Role.STANDALONE
        if epoch is not None:
            fields["epoch"] = epoch
        if role != Role.BACKUP:
            fields.update(failover_in_s=None, awaiting_manual_failover=False, primary_reachable=None)
            self._end_incident()
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


def _role(value: str) -> Role | None:
    return Role(value) if value in {r.value for r in Role} else None
