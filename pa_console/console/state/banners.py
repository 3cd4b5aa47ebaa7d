"""The banners at the top of the window, as data: each lasts exactly as long as its condition (issue 15).

Two kinds:
- conditions read from the appliances' state every time it changes and every second (primary lost with its
  countdown, a failed last sync, a takeover's news until the relationship changes): they end by themselves;
- messages posted by the console (a settings file it could not read, the demo lab starting), each with an optional
  condition that ends it (`until`), and dismissable.

Coloured by severity (Urgency: info, warning, critical), never "error red" for good news.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pa_console.console.state.appliance import ApplianceState
from pa_console.console.state.notifier import Urgency
from pa_console.console.state.observable import Signal
from pa_console.console.state.outlook import auto_failover, health_field, lost_line
from pa_console.protocol.models import Role, SyncStatus


@dataclass(frozen=True)
class BannerLine:
    key: str  # a new incident gets a new key, so a dismissed banner of the last one does not hide it
    text: str
    urgency: Urgency


def condition_lines(states: Iterable[ApplianceState]) -> list[BannerLine]:
    """The banners the appliances' state calls for now, most severe first."""
    lines: list[BannerLine] = []
    for state in states:
        lost = lost_line(state)
        if lost is not None:
            reason = f" ({state.lost_reason.rstrip('.')})" if state.lost_reason else ""
            head, _, tail = lost.partition(" · ")
            text = f"{state.name}: {head}{reason}" + (f" · {tail}" if tail else "")
            urgency = Urgency.CRITICAL if not auto_failover(state).takes_over else Urgency.WARNING
            lines.append(BannerLine(f"lost/{state.id}", text, urgency))
        if state.news is not None:
            urgency = Urgency.WARNING if state.news.serious else Urgency.INFO
            lines.append(BannerLine(f"news/{state.id}/{state.news.key}", f"{state.news.title}. {state.news.body}",
                                    urgency))
        fenced = health_field(state, "fenced") or state.fence_problem
        if fenced:
            lines.append(BannerLine(f"fenced/{state.id}", f"{state.name} is fenced: {str(fenced).rstrip('.')}.",
                                    Urgency.CRITICAL))
        refused = health_field(state, "primary_refused") or state.refused
        if refused and state.role == Role.BACKUP:
            lines.append(BannerLine(f"refused/{state.id}", f"{state.name}: the primary answers but refuses the "
                                    f"relationship: {str(refused).rstrip('.')}.", Urgency.CRITICAL))
        health = state.health
        if (state.role == Role.BACKUP and health is not None and health.last_sync_status == SyncStatus.FAILED
                and lost is None):
            error = state.last_report.error if state.last_report is not None else None
            lines.append(BannerLine(f"sync/{state.id}", f"{state.name}: the last sync failed"
                                    + (f": {error}" if error else ""), Urgency.WARNING))
    order = {Urgency.CRITICAL: 0, Urgency.WARNING: 1, Urgency.INFO: 2}
    return sorted(lines, key=lambda line: order[line.urgency])


@dataclass
class _Message:
    line: BannerLine
    until: Callable[[], bool] | None


class BannerBoard:
    """What the banner shows: the state's conditions and the posted messages, minus what was dismissed."""

    def __init__(self, states: Callable[[], Iterable[ApplianceState]]) -> None:
        self._states = states
        self._messages: dict[str, _Message] = {}
        self._dismissed: set[str] = set()
        self.changed: Signal[None] = Signal()
        self._last: list[BannerLine] = []

    def post(self, key: str, text: str, urgency: Urgency = Urgency.WARNING, *,
             until: Callable[[], bool] | None = None) -> None:
        """A message of the console's own; it ends when `until()` turns true, when dismissed, or when re-posted."""
        self._dismissed.discard(key)
        self._messages[key] = _Message(BannerLine(key, text, urgency), until)
        self.refresh()

    def end(self, key: str) -> None:
        if self._messages.pop(key, None) is not None:
            self.refresh()

    def dismiss(self, key: str) -> None:
        self._dismissed.add(key)
        self._messages.pop(key, None)
        self.refresh()

    def lines(self) -> list[BannerLine]:
        for key, message in list(self._messages.items()):
            if message.until is not None and message.until():
                del self._messages[key]
        shown = [*condition_lines(self._states()), *(m.line for m in self._messages.values())]
        return [line for line in shown if line.key not in self._dismissed]

    def refresh(self) -> None:
        """Recompute (on a state change and every second); `changed` fires only when the lines differ."""
        lines = self.lines()
        if lines != self._last:
            self._last = lines
            self.changed.emit(None)
