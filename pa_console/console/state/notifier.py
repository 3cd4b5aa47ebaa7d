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
from pa_console.protocol.models import Event, EventType


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
        self.dropped = 0

    def add_sink(self, sink: NoticeSink) -> None:
        self._sinks.append(sink)

    # -- inputs --------
    def on_event(self, appliance: str, event: Event) -> Notice | None:
        """Feed every event of every appliance; returns the notice shown, if any."""
        ts = event.ts if event.ts.tzinfo else event.ts.replace(tzinfo=UTC)
        if (self._wall() - ts).total_seconds() > self._max_age:
            return None  # history replayed at connect: shown in the timeline, not as a notification
        d = event.data
        t = event.type
        incident = self._incident.get(appliance, 0)
        if t == EventType.PRIMARY_LOST:
            incident = self._incident[appliance] = incident + 1
            self._thresholds_told[appliance] = set()
            return self._tell(
                (NoticeKind.PRIMARY_LOST, appliance, str(incident)),
                Notice(
                    NoticeKind.PRIMARY_LOST,
                    appliance,
                    f"{appliance}: primary lost",
                    "The backup cannot reach its primary. " + str(d.get("detail", "It keeps trying.")),
                    Urgency.CRITICAL,
                ),
            )
        if t == EventType.COUNTDOWN:
            return self._countdown(appliance, incident, d.get("failover_in_s"), bool(d.get("auto_failover")))
        if t == EventType.AWAITING_MANUAL_FAILOVER:
            return self._tell(
                (NoticeKind.MANUAL_NEEDED, appliance, str(incident)),
                Notice(
                    NoticeKind.MANUAL_NEEDED,
                    appliance,
                    f"{appliance}: manual failover needed",
                    "The primary is still unreachable and automatic failover is off. Use Become Primary.",
                    Urgency.CRITICAL,
                ),
            )
        if t == EventType.TAKEOVER:
            return self._tell(
                (NoticeKind.TAKEOVER, appliance, str(d.get("epoch", incident))),
                Notice(
                    NoticeKind.TAKEOVER,
                    appliance,
                    f"{appliance} took over",
                    "It is now the primary.",
                    Urgency.WARNING,
                ),
            )
        if t == EventType.PRIMARY_RECOVERED:
            return self._tell(
                (NoticeKind.RECOVERED, appliance, str(incident)),
                Notice(
                    NoticeKind.RECOVERED,
                    appliance,
                    f"{appliance}: primary back",
                    "The countdown stopped.",
                    Urgency.INFO,
                ),
            )
        if t == EventType.SYNC_FAILED:
            error = str(d.get("error") or "no reason given")
            return self._tell(
                (NoticeKind.SYNC_FAILED, appliance, error),
                Notice(NoticeKind.SYNC_FAILED, appliance, f"{appliance}: sync failed", error, Urgency.WARNING),
                repeatable=True,
            )
        if t == EventType.DEMOTED:
            return self._tell(
                (NoticeKind.DEMOTED, appliance, str(d.get("epoch", d.get("peer_epoch", event.id)))),
                Notice(
                    NoticeKind.DEMOTED,
                    appliance,
                    f"{appliance} demoted itself",
                    str(d.get("detail") or "It returned as primary, found a newer primary and became the backup.")
                    + (f" Data written on it after the split was kept aside at {d['kept']}." if d.get("kept") else ""),
                    Urgency.WARNING,
                ),
            )
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
    def _countdown(self, appliance: str, incident: int, left: object, auto: bool) -> Notice | None:
        if not isinstance(left, int | float):
            return None
        told = self._thresholds_told.setdefault(appliance, set())
        crossed = [t for t in COUNTDOWN_THRESHOLDS if left <= t and t not in told]
        if not crossed:
            return None
        told.update(crossed)
        threshold = min(crossed)
        action = "the backup takes over automatically" if auto else "then a manual failover is needed"
        return self._tell(
            (NoticeKind.COUNTDOWN, appliance, str(incident), str(threshold)),
            Notice(
                NoticeKind.COUNTDOWN,
                appliance,
                f"{appliance}: failover in {human_duration(float(left))}",
                f"The primary is still unreachable; in {human_duration(float(left))} {action}.",
                Urgency.CRITICAL,
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
        if len(self._recent) >= self._rate_limit and notice.urgency != Urgency.CRITICAL:
            self.dropped += 1
            return None
        self._sent[key] = now
        self._recent.append(now)
        for sink in self._sinks:
            sink.show(notice)
        return notice
