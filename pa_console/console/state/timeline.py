"""The timeline: the events of both appliances, merged by time, filtered, exportable as CSV or JSON."""

from __future__ import annotations

import bisect
import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pa_console.console.state.formatting import human_bytes, human_duration, human_run_time
from pa_console.console.state.notifier import outlook_sentence
from pa_console.console.state.observable import Signal
from pa_console.protocol.events import (
    Countdown,
    Demoted,
    Fenced,
    PrimaryLost,
    RoleChanged,
    SyncFailed,
    SyncFinished,
    Takeover,
    TakeoverBlocked,
    TakeoverStep,
    VerifyFinished,
)
from pa_console.protocol.models import Event, EventType

CATEGORIES: dict[str, frozenset[str]] = {
    "relationship": frozenset({EventType.RELATIONSHIP_ESTABLISHED, EventType.RELATIONSHIP_BROKEN}),
    "sync": frozenset({EventType.SYNC_STARTED, EventType.SYNC_FINISHED, EventType.SYNC_FAILED}),
    "failover": frozenset(
        {
            EventType.PRIMARY_LOST,
            EventType.PRIMARY_RECOVERED,
            EventType.COUNTDOWN,
            EventType.AWAITING_MANUAL_FAILOVER,
            EventType.TAKEOVER,
            EventType.TAKEOVER_STEP,
            EventType.DEMOTED,
            EventType.ROLE_CHANGED,
            EventType.SPLIT_BRAIN_DATA_KEPT,
            # Issue 13's, by wire name (typed in protocol/events.py).
            "takeover_blocked",
            "primary_refused",
            "fenced",
            "keep_aside_failed",
        }
    ),
    "settings": frozenset(
        {EventType.SETTINGS_CHANGED, EventType.EMAIL_CHANGED, EventType.KEY_CHANGED, EventType.SITE_CHANGED}
    ),
    "mail": frozenset({EventType.MAIL_SENT, EventType.MAIL_FAILED, EventType.NO_PULL_ALERT, EventType.PULLS_RESUMED}),
}
# Countdown ticks come every second; the timeline keeps the first and those at these marks.
COUNTDOWN_MARKS = (600, 300, 120, 60, 30, 10, 5, 0)


def category_of(event_type: str) -> str:
    for name, types in CATEGORIES.items():
        if event_type in types:
            return name
    return "other"


def summarize(event: Event) -> str:
    """One line a person reads in the timeline."""
    match event.body:
        case SyncFinished() as done:
            return (
                f"Sync finished: {done.rows_moved} rows, {human_bytes(float(done.bytes_moved))} "
                f"in {human_run_time(done.duration_s)}" + ("" if done.digest_ok is not False else " · DIGESTS DIFFER")
            )
        case SyncFailed() as failed:
            return f"Sync failed: {failed.error or 'no reason given'}"
        case PrimaryLost() as lost:
            outlook = outlook_sentence(lost.auto_failover, lost.action, lost.takeover_blocked)
            return f"Primary lost: {(lost.error or 'no answer').rstrip('.')}. {outlook}"
        case Countdown() as tick:
            action = "automatic takeover" if tick.takes_over else "then manual failover needed"
            return f"Countdown: {human_duration(tick.failover_in_s)} left ({action})"
        case TakeoverStep() as step:
            what = "Demotion" if step.event == "demotion" else "Takeover"
            text = f"{what} step {step.step}: {'done' if step.ok else 'FAILED'}"
            if step.duration_s:
                text += f" in {step.duration_s:.2f} s"
            return text + (f" ({step.detail})" if step.detail else "")
        case Takeover() as took:
            how = {"planned": "planned swap", "forced": "forced takeover", "automatic": "automatic takeover"}.get(
                took.how or ("planned" if took.planned else ""), "after losing the primary")
            tail = f"; failed steps: {', '.join(took.failed_steps)}" if took.failed_steps else ""
            return f"Became primary ({how}), epoch {took.epoch if took.epoch is not None else '?'}{tail}"
        case Demoted() as demoted:
            return f"Demoted to backup: {demoted.peer or 'the peer'} is primary at epoch {demoted.peer_epoch}"
        case TakeoverBlocked() as blocked:
            if blocked.blocked:
                return f"Automatic takeover blocked: {blocked.reason or 'no reason given'}"
            return "Automatic takeover possible again"
        case Fenced() as fenced:
            peer = fenced.peer or "the peer"
            return f"Fenced: stepped down to backup, {peer} is primary at epoch {fenced.peer_epoch}"
        case VerifyFinished() as scrub:
            return _scrub_summary(scrub)
        case RoleChanged() as changed:
            return f"Role changed to {changed.role} (epoch {changed.epoch if changed.epoch is not None else '?'})"
        case _:
            pass
    d = event.data
    t = event.type
    for key in ("detail", "message", "reason", "error"):
        if isinstance(d.get(key), str) and d[key]:
            return f"{t.replace('_', ' ').capitalize()}: {d[key]}"
    return t.replace("_", " ").capitalize()


def _scrub_summary(scrub: VerifyFinished) -> str:
    checked = f"{scrub.rows_checked} rows and {human_bytes(float(scrub.bytes_checked))} of recordings checked"
    if scrub.status == "whole":
        return f"Scrub: the site data is whole ({checked})"
    if scrub.status == "failed":
        return f"Scrub failed: {scrub.error or 'no reason given'}"
    found = f"Scrub found {scrub.damaged_count} damaged item(s)"
    if scrub.repair == "refetch":
        return f"{found}; this backup fetches them again from its primary at its next sync"
    return f"{found}: {scrub.repair_detail or 'the administrator was mailed'}"


@dataclass(frozen=True)
class TimelineEntry:
    appliance: str
    event: Event

    @property
    def ts(self) -> datetime:
        return self.event.ts

    @property
    def category(self) -> str:
        return category_of(self.event.type)

    @property
    def summary(self) -> str:
        return summarize(self.event)


def _order(entry: TimelineEntry) -> tuple[datetime, int]:
    return (entry.ts, entry.event.id)


class TimelineModel:
    """Keeps the significant events of several appliances; `changed` fires when entries or filters change."""

    def __init__(self, keep: int = 20_000) -> None:
        self._entries: list[TimelineEntry] = []
        self._keys: set[tuple[str, int]] = set()
        self._keep = keep
        self.categories: set[str] = {*CATEGORIES, "other"}
        self.appliances: set[str] | None = None  # None: all
        self.text = ""
        self.changed: Signal[None] = Signal()

    @staticmethod
    def significant(event: Event) -> bool:
        if event.type in (EventType.SYNC_PROGRESS, EventType.VERIFY_PROGRESS):
            return False
        if isinstance(event.body, Countdown):
            left = event.body.failover_in_s
            return any(abs(left - mark) < 0.5 for mark in COUNTDOWN_MARKS)
        return True

    def add(self, appliance: str, events: Iterable[Event]) -> None:
        added = False
        for event in events:
            key = (appliance, event.id)
            if key in self._keys or not self.significant(event):
                continue
            self._keys.add(key)
            entry = TimelineEntry(appliance, event)
            if self._entries and _order(entry) < _order(self._entries[-1]):
                bisect.insort(self._entries, entry, key=_order)
            else:
                self._entries.append(entry)
            added = True
        if added:
            if len(self._entries) > self._keep:
                for gone in self._entries[: len(self._entries) - self._keep]:
                    self._keys.discard((gone.appliance, gone.event.id))
                del self._entries[: len(self._entries) - self._keep]
            self.changed.emit(None)

    def set_filter(
        self,
        *,
        categories: set[str] | None = None,
        appliances: set[str] | None = None,
        text: str | None = None,
    ) -> None:
        if categories is not None:
            self.categories = set(categories)
        self.appliances = appliances
        if text is not None:
            self.text = text
        self.changed.emit(None)

    def visible(self) -> list[TimelineEntry]:
        needle = self.text.strip().lower()
        return [
            e
            for e in self._entries
            if e.category in self.categories
            and (self.appliances is None or e.appliance in self.appliances)
            and (not needle or needle in e.summary.lower() or needle in e.event.type)
        ]

    def all_entries(self) -> list[TimelineEntry]:
        return list(self._entries)

    @staticmethod
    def _record(entry: TimelineEntry) -> dict[str, Any]:
        return {
            "time": entry.ts.isoformat(),
            "appliance": entry.appliance,
            "id": entry.event.id,
            "type": entry.event.type,
            "category": entry.category,
            "summary": entry.summary,
            "data": entry.event.data,
        }

    def to_json(self) -> str:
        return json.dumps([self._record(e) for e in self.visible()], indent=2, default=str)

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["time", "appliance", "id", "type", "category", "summary", "data"])
        for entry in self.visible():
            r = self._record(entry)
            writer.writerow(
                [
                    r["time"],
                    r["appliance"],
                    r["id"],
                    r["type"],
                    r["category"],
                    r["summary"],
                    json.dumps(r["data"]),
                ]
            )
        return out.getvalue()
