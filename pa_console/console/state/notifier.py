"""The Notifier decides what is worth telling the administrator; sinks (tray, desktop, banner) decide how."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from pa_console.console.state.formatting import human_duration
from pa_console.protocol.events import (
    AwaitingManualFailover,
    Countdown,
    Demoted,
    FailoverAction,
    Fenced,
    KeepAsideFailed,
    PrimaryLost,
    PrimaryRecovered,
    SyncFailed,
    Takeover,
)
from pa_console.protocol.models import Event


class NoticeKind(StrEnum):
    PRIMARY_LOST = "primary_lost"
    COUNTDOWN = "countdown"
    MANUAL_NEEDED = "manual_needed"
    TAKEOVER = "takeover"
    RECOVERED = "recovered"
    SYNC_FAILED = "sync_failed"
    DEMOTED = "demoted"
    KEYS_DIFFER = "keys_differ"


class Urgency(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    appliance: str
    title: str
    body: str
    urgency: Urgency
    # Notices of one incident share this key: a desktop notification is updated in place rather than stacked.
    incident: str = ""


def outlook_sentence(auto_failover: bool, action: FailoverAction | None, blocked: str | None) -> str:
    """What happens when the primary stays lost, as the agent said it (its `action` and `takeover_blocked`)."""
    if action == "takeover" or (action is None and auto_failover and not blocked):
        return "If it stays lost, the backup takes over automatically."
    if auto_failover and blocked:
        return f"Automatic failover is on but blocked ({blocked.rstrip('.')}): a manual failover will be needed."
    return "Automatic failover is off: a manual failover will be needed."


def _first(*values: int | None) -> str:
    return str(next(v for v in values if v is not None))


def takeover_words(appliance: str, took: Takeover) -> tuple[str, str]:
    """Words that match what happened: a planned swap, a forced takeover, an automatic takeover."""
    trouble = "" if took.ok else f" Failed steps: {', '.join(took.failed_steps)}."
    if took.how == "planned" or (took.how is None and took.planned):
        return f"{appliance} is now the primary (planned swap)", "The roles were swapped as asked." + trouble
    if took.how == "forced":
        return (f"{appliance} was made primary (forced takeover)",
                "An administrator made the backup the primary while the primary was lost." + trouble)
    if took.how == "automatic":
        return (f"{appliance} took over automatically",
                "The primary stayed lost for the whole timeout; the backup is now the primary." + trouble)
    return f"{appliance} became the primary", (took.reason.capitalize() + "." if took.reason else "") + trouble


class NoticeSink(Protocol):
    def show(self, notice: Notice) -> None: ...


# Remaining seconds of a countdown at which the administrator is told (not every second).
COUNTDOWN_THRESHOLDS = (300, 120, 60, 30, 10)


class Notifier:
    """Turns appliance events into notices: one per incident and kind, rate-limited, old history ignored."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_event_age_s: float = 120.0,
        rate_limit: int = 8,
        rate_window_s: float = 60.0,
        repeat_after_s: float = 600.0,
    ) -> None:
        self._clock = clock
        self._wall = wall
        self._max_age = max_event_age_s
        self._rate_limit = rate_limit
        self._rate_window = rate_window_s
        self._repeat_after = repeat_after_s
        self._sinks: list[NoticeSink] = []
        self._sent: dict[tuple[str, ...], float] = {}
        self._recent: deque[float] = deque()
        self._incident: dict[str, int] = {}  # appliance -> incident number (raised at primary lost)
        self._thresholds_told: dict[str, set[int]] = {}
        self.enabled: set[NoticeKind] = set(NoticeKind)
        self._incidents_told: set[str] = set()
        self.dropped = 0

    def add_sink(self, sink: NoticeSink) -> None:
        self._sinks.append(sink)

    # -- inputs --------
    def on_event(self, appliance: str, event: Event) -> Notice | None:
        """Feed every event of every appliance; returns the notice shown, if any."""
        ts = event.ts if event.ts.tzinfo else event.ts.replace(tzinfo=UTC)
        if (self._wall() - ts).total_seconds() > self._max_age:
            return None  # history replayed at connect: shown in the timeline, not as a notification
        incident = self._incident.get(appliance, 0)
        match event.body:
            case PrimaryLost() as lost:
                incident = self._incident[appliance] = incident + 1
                self._thresholds_told[appliance] = set()
                return self._tell(
                    (NoticeKind.PRIMARY_LOST, appliance, str(incident)),
                    Notice(
                        NoticeKind.PRIMARY_LOST,
                        appliance,
                        f"{appliance}: primary lost",
                        "The backup cannot reach its primary"
                        + (f" ({lost.error.rstrip('.')})" if lost.error else "")
                        + f". {outlook_sentence(lost.auto_failover, lost.action, lost.takeover_blocked)}",
                        # Critical (stays up) when only an administrator can act; a warning while the backup will.
                        Urgency.WARNING if lost.action == "takeover" else Urgency.CRITICAL,
                        incident=f"{appliance}/lost/{incident}",
                    ),
                )
            case Countdown() as tick:
                return self._countdown(appliance, incident, tick)
            case AwaitingManualFailover() as waiting:
                return self._tell(
                    (NoticeKind.MANUAL_NEEDED, appliance, str(incident)),
                    Notice(
                        NoticeKind.MANUAL_NEEDED,
                        appliance,
                        f"{appliance}: manual failover needed",
                        "The primary is still unreachable and the backup did not take over"
                        + (f" ({waiting.reason})" if waiting.reason else "")
                        + ". Use Become Primary with Force.",
                        Urgency.CRITICAL,
                        incident=f"{appliance}/lost/{incident}",
                    ),
                )
            case Takeover() as took:
                title, body = takeover_words(appliance, took)
                return self._tell(
                    (NoticeKind.TAKEOVER, appliance, str(took.epoch if took.epoch is not None else incident)),
                    Notice(NoticeKind.TAKEOVER, appliance, title, body,
                           Urgency.INFO if took.how == "planned" and took.ok else Urgency.WARNING,
                           incident=f"{appliance}/lost/{incident}" if took.how != "planned" else ""),
                )
            case PrimaryRecovered():
                return self._tell(
                    (NoticeKind.RECOVERED, appliance, str(incident)),
                    Notice(
                        NoticeKind.RECOVERED,
                        appliance,
                        f"{appliance}: primary back",
                        "The primary answers again; no failover happened.",
                        Urgency.INFO,
                        incident=f"{appliance}/lost/{incident}",
                    ),
                )
            case SyncFailed() as failed:
                error = failed.error or "no reason given"
                return self._tell(
                    (NoticeKind.SYNC_FAILED, appliance, error),
                    Notice(NoticeKind.SYNC_FAILED, appliance, f"{appliance}: sync failed", error, Urgency.WARNING,
                           incident=f"{appliance}/sync"),
                    repeatable=True,
                )
            case Demoted() as demoted:
                return self._tell(
                    (NoticeKind.DEMOTED, appliance, _first(demoted.epoch, demoted.peer_epoch, event.id)),
                    Notice(
                        NoticeKind.DEMOTED,
                        appliance,
                        f"{appliance} demoted itself to backup",
                        f"It returned as primary, found that {demoted.peer or 'its peer'} had been made primary while "
                        "it was away (a newer epoch), and became the backup."
                        + (f" Data written on it after the split was kept aside at {demoted.kept}."
                           if demoted.kept else ""),
                        Urgency.WARNING,
                    ),
                )
            case KeepAsideFailed() as failed:
                return self._tell(
                    (NoticeKind.DEMOTED, appliance, "keep-aside", failed.error),
                    Notice(NoticeKind.DEMOTED, appliance, f"{appliance} is fenced: its data could not be kept aside",
                           failed.detail or failed.error, Urgency.CRITICAL),
                )
            case Fenced() as fenced:
                return self._tell(
                    (NoticeKind.DEMOTED, appliance, "fenced", _first(fenced.epoch, event.id)),
                    Notice(NoticeKind.DEMOTED, appliance, f"{appliance} stepped down to backup (fenced)",
                           f"{fenced.peer or 'Its peer'} is primary at a higher epoch.", Urgency.WARNING),
                )
            case _:
                return None

    def keys_compared(self, pair: str, match: bool) -> Notice | None:
        if match:
            self._sent.pop((NoticeKind.KEYS_DIFFER, pair), None)
            return None
        return self._tell(
            (NoticeKind.KEYS_DIFFER, pair),
            Notice(
                NoticeKind.KEYS_DIFFER,
                pair,
                f"{pair}: Inter-Appliance keys differ",
                "The pair cannot sync or fail over until both hold the same key (Security page).",
                Urgency.WARNING,
            ),
        )

    # -- decisions --------
    def _countdown(self, appliance: str, incident: int, tick: Countdown) -> Notice | None:
        left = tick.failover_in_s
        told = self._thresholds_told.setdefault(appliance, set())
        crossed = [t for t in COUNTDOWN_THRESHOLDS if left <= t and t not in told]
        if not crossed:
            return None
        told.update(crossed)
        threshold = min(crossed)
        if not tick.takes_over:
            # Nothing happens when the countdown ends: no countdown notices (the loss and the end are told).
            return None
        return self._tell(
            (NoticeKind.COUNTDOWN, appliance, str(incident), str(threshold)),
            Notice(
                NoticeKind.COUNTDOWN,
                appliance,
                f"{appliance}: automatic takeover in {human_duration(left)}",
                f"The primary is still unreachable; in {human_duration(left)} the backup takes over automatically.",
                Urgency.WARNING,  # updates the incident's notification in place; never a pile of critical ones
                incident=f"{appliance}/lost/{incident}",
            ),
        )

    def _tell(self, key: tuple[str, ...], notice: Notice, *, repeatable: bool = False) -> Notice | None:
        if notice.kind not in self.enabled:
            return None
        now = self._clock()
        sent = self._sent.get(key)
        if sent is not None and (not repeatable or now - sent < self._repeat_after):
            return None
        while self._recent and now - self._recent[0] > self._rate_window:
            self._recent.popleft()
        updates = bool(notice.incident) and notice.incident in self._incidents_told  # replaces one in place
        if len(self._recent) >= self._rate_limit and notice.urgency != Urgency.CRITICAL and not updates:
            self.dropped += 1
            return None
        self._sent[key] = now
        self._recent.append(now)
        if notice.incident:
            self._incidents_told.add(notice.incident)
        for sink in self._sinks:
            sink.show(notice)
        return notice
