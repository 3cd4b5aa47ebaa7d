"""The administrator's mails of a failover incident: what happened, how long is left, what will happen.

Pure functions (no I/O), so the state machine can build them and tests can read them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pa_console.agent.failover.machine import WatchConfig

Message = tuple[str, str]  # (subject, body)


def _seconds(value: float) -> str:
    whole = math.ceil(max(0.0, value))
    if whole >= 120:
        minutes, seconds = divmod(whole, 60)
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    return f"{whole} s"


def why_no_takeover(config: WatchConfig) -> str:
    if not config.auto_failover:
        return "automatic failover is off"
    return f"automatic failover is refused: {config.blocker}"


def refused_detail(config: WatchConfig, said: str) -> str:
    return (f"The primary {config.peer_name} answers but no longer recognises this relationship ({said.rstrip('.')})."
            f" {config.own_name} will never take over from it: the relationship was probably broken there, or the "
            "Inter-Appliance key changed. Break the relationship on this appliance too (Break Failover "
            "Relationships) and establish it again if it is still wanted.")


def refused(config: WatchConfig, said: str) -> Message:
    return (f"[pa] Primary {config.peer_name} refuses the relationship: {config.own_name} will not take over",
            refused_detail(config, said) + "\n")


def _what_next(config: WatchConfig) -> str:
    if config.takes_over:
        return (f"then {config.own_name} takes over the shared address {config.address} and becomes "
                "the primary, unless the primary answers again before.")
    return (f"then {config.own_name} will NOT take over ({why_no_takeover(config)}); "
            "it will wait for an administrator to fail over manually (the console's Failover pane, "
            "or POST /api/v1/failover/role).")


def lost(config: WatchConfig, left_s: float, error: str) -> Message:
    subject = f"[pa] Primary {config.peer_name} lost: failover in {_seconds(left_s)}"
    body = (f"The backup {config.own_name} cannot reach its primary {config.peer_name}.\n"
            f"Last error: {error}\n\n"
            f"Time left before failover: {_seconds(left_s)} "
            f"(Primary Site Instance Timeout {_seconds(config.primary_timeout_s)}); {_what_next(config)}\n\n"
            "You will get a message at takeover, or when the primary answers again.\n")
    return subject, body


def countdown(config: WatchConfig, left_s: float) -> Message:
    subject = f"[pa] Primary {config.peer_name} still lost: failover in {_seconds(left_s)}"
    body = (f"The backup {config.own_name} still cannot reach its primary {config.peer_name}.\n\n"
            f"Time left before failover: {_seconds(left_s)}; {_what_next(config)}\n")
    return subject, body


def awaiting(config: WatchConfig, reason: str) -> Message:
    subject = f"[pa] Primary {config.peer_name} lost: manual failover needed"
    body = (f"The primary {config.peer_name} has not answered for the whole Primary Site Instance Timeout "
            f"({_seconds(config.primary_timeout_s)}). The backup {config.own_name} did not take over because "
            f"{reason}.\n\n"
            f"The site is down until the primary returns or an administrator makes {config.own_name} "
            "the primary (the console's Failover pane, or POST /api/v1/failover/role with force).\n")
    return subject, body


def recovered(config: WatchConfig, down_s: float, countdown_cancelled: bool) -> Message:
    subject = f"[pa] Primary {config.peer_name} is back"
    what = "The failover countdown was cancelled" if countdown_cancelled else "No failover happened"
    body = (f"The primary {config.peer_name} answers its backup {config.own_name} again, after about "
            f"{_seconds(down_s)} without an answer. {what}; {config.peer_name} remains the primary.\n")
    return subject, body


def takeover(own_name: str, peer_name: str, reason: str, steps: list[tuple[str, bool, str]]) -> Message:
    ok = all(step_ok for _, step_ok, _ in steps)
    subject = f"[pa] {own_name} took over as primary" + ("" if ok else " (with problems)")
    lines = "\n".join(f"  - {name}: {'done' if step_ok else 'FAILED'}: {detail}"
                      for name, step_ok, detail in steps)
    body = (f"The backup {own_name} became the primary because {reason}.\n\nSteps:\n{lines}\n\n"
            f"When {peer_name} returns, it will find {own_name} primary at a higher epoch and demote itself "
            "to backup; data written on it after it was lost is kept aside, not discarded.\n")
    return subject, body


def demoted(own_name: str, peer_name: str, own_epoch: int, peer_epoch: int, kept: str | None) -> Message:
    subject = f"[pa] {own_name} demoted itself to backup: {peer_name} is primary"
    kept_text = (f"What was written on this appliance after the last change {peer_name} confirmed is kept aside "
                 f"at {kept}; compare it with the primary's and re-enter anything missing." if kept
                 else f"Nothing was written on it after the last change {peer_name} confirmed: no data diverged.")
    body = (f"{own_name} came back as primary (epoch {own_epoch}) and found {peer_name} primary at a higher "
            f"epoch ({peer_epoch}). To never have two primaries, {own_name} stopped serving the shared address "
            f"and became the backup of {peer_name}.\n\n{kept_text}\n")
    return subject, body
