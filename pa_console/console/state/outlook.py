"""What the backup will do if its primary stays lost, and the countdown, worded once for every view (issue 15).

One source per fact: the banner, the diagram, the takeover box and the notifications all read these functions, and
the seconds all come from `ApplianceState.countdown_left()` (the agent's deadline, kept on one clock).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pa_console.console.state.appliance import ApplianceState
from pa_console.console.state.formatting import human_duration
from pa_console.protocol.models import FailoverSettings, Role


class AutoFailover(StrEnum):
    ON = "on"
    OFF = "off"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class AutoFailoverState:
    mode: AutoFailover
    why: str | None = None  # why blocked

    @property
    def takes_over(self) -> bool:
        return self.mode == AutoFailover.ON

    def words(self) -> str:
        if self.mode == AutoFailover.BLOCKED:
            return f"Automatic failover: blocked ({(self.why or 'see the agent').rstrip('.')})"
        if self.mode == AutoFailover.UNKNOWN:
            return "Automatic failover: not known yet"
        return f"Automatic failover: {self.mode.value}"


def health_field(state: ApplianceState, name: str) -> Any:
    """A health field that newer agents send (issue 13: `auto_takeover_blocked`, `copy_complete`...), or None."""
    return getattr(state.health, name, None) if state.health is not None else None


def auto_failover(backup: ApplianceState, settings: FailoverSettings | None = None) -> AutoFailoverState:
    """On, off or blocked (and why), as the backup's agent says: its health, its settings, its last countdown."""
    outlook = backup.failover_outlook
    if outlook is not None:  # an incident is on: the agent's own word on what it will do wins
        if outlook.takes_over:
            return AutoFailoverState(AutoFailover.ON)
        if outlook.auto_failover:
            # An event without the reason (older agents): the health's reason, read at every poll, before a shrug.
            why = (outlook.takeover_blocked or health_field(backup, "auto_takeover_blocked") or backup.blocked_reason
                   or "the backup says it will not")
            return AutoFailoverState(AutoFailover.BLOCKED, str(why))
        return AutoFailoverState(AutoFailover.OFF)
    if backup.health is None and backup.settings is None and settings is None:
        return AutoFailoverState(AutoFailover.UNKNOWN)
    settings = settings or backup.settings
    enabled = settings.auto_failover if settings is not None else bool(
        backup.health and backup.health.auto_failover)
    if not enabled:
        return AutoFailoverState(AutoFailover.OFF)
    blocked = health_field(backup, "auto_takeover_blocked") or backup.blocked_reason
    if not blocked:
        failing = [c for c in backup.method_checks or [] if c.configured and not c.ready]
        if failing:
            blocked = failing[0].detail
    if blocked:
        return AutoFailoverState(AutoFailover.BLOCKED, str(blocked))
    return AutoFailoverState(AutoFailover.ON)


def countdown_words(left_s: float) -> str:
    """The seconds of a countdown, rounded up (as the agent announces them), the same in every view."""
    return human_duration(math.ceil(max(0.0, left_s)))


def primary_lost(backup: ApplianceState) -> bool:
    health = backup.health
    return (backup.role == Role.BACKUP and health is not None
            and (health.primary_reachable is False or health.awaiting_manual_failover
                 or backup.countdown_deadline is not None))


def lost_line(backup: ApplianceState) -> str | None:
    """'Primary lost · automatic takeover in 12 s' or '… manual failover needed (why)'; None when not lost."""
    if not primary_lost(backup):
        return None
    auto = auto_failover(backup)
    left = backup.countdown_left()
    if auto.takes_over and left is not None and not backup.awaiting_manual_failover:
        return f"Primary lost · automatic takeover in {countdown_words(left)}"
    if auto.mode == AutoFailover.BLOCKED:
        return f"Primary lost · manual failover needed (automatic failover blocked: {(auto.why or '').rstrip('.')})"
    if auto.mode == AutoFailover.OFF:
        return "Primary lost · manual failover needed (automatic failover is off)"
    if backup.awaiting_manual_failover:
        return "Primary lost · manual failover needed"
    return "Primary lost"


def lost_reason(backup: ApplianceState) -> str | None:
    """Why the primary counts as lost, in the agent's words (its `error`), when known."""
    return backup.lost_reason
