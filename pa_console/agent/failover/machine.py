"""The backup's watch of its primary as a pure transition function.

`step(state, event, config) -> (state, effects)`: no I/O, no clock, no sleeping. Time arrives inside the events,
and everything the watch wants done (events, mails, the takeover) comes back as effects that the FailoverMonitor
performs. So unit tests drive every path.

Phases of one incident:
  REACHABLE --probe fails--> SUSPECT --confirmed lost--> COUNTDOWN --deadline--> TOOK_OVER | AWAITING_MANUAL
  and any of SUSPECT, COUNTDOWN, AWAITING_MANUAL --probe answers--> REACHABLE.
  Any phase --the primary answers but refuses the relationship--> REFUSED (never a takeover) --probe ok--> REACHABLE.

"Lost" needs both: the backup's probes fail AND the primary's heartbeats stopped arriving (a one-way loss of the
backup's path is not a lost primary). The deadline takes over only if nothing blocks it (`WatchConfig.blocker`:
automatic failover off or impossible, no complete copy here, a witness not reachable); a blocker that goes away
while awaiting a manual failover (ConfigChanged) lets the takeover happen then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from pa_console.agent.failover import messages
from pa_console.protocol.events import (
    AnyEvent,
    AwaitingManualFailover,
    Countdown,
    EventBody,
    FailoverAction,
    PrimaryLost,
    PrimaryRecovered,
    PrimaryRefused,
    typed,
    wire_data,
)
from pa_console.protocol.models import EventType


class Phase(StrEnum):
    IDLE = "idle"  # not watching (not a backup, or no relationship)
    REACHABLE = "reachable"
    SUSPECT = "suspect"  # probes fail, but not yet long enough to call the primary lost
    COUNTDOWN = "countdown"
    AWAITING_MANUAL = "awaiting_manual"
    TOOK_OVER = "took_over"
    REFUSED = "refused"  # the primary answers but no longer recognises the relationship: never taken over


@dataclass(frozen=True)
class WatchConfig:
    primary_timeout_s: float
    probe_interval_s: float
    auto_failover: bool
    # Why automatic takeover is impossible (e.g. the shared address is in no shared subnet); None when possible.
    takeover_blocker: str | None = None
    own_name: str = "this appliance"
    peer_name: str = "the primary"
    address: str = "the shared address"
    # One lost probe is not a lost primary: this many failures in a row, or as many probe intervals of silence
    # (the latter matters when each probe hangs until its timeout, so failures accumulate slowly).
    failures_to_confirm: int = 3
    # Why this appliance's copy must not serve the site (never synced, a copy of another store); None: complete.
    copy_blocker: str | None = None
    # Why the witness check forbids a takeover (a witness address not reachable from here); None: no witness, or
    # every witness answers.
    witness_blocker: str | None = None

    @property
    def obstacle(self) -> str | None:
        """Why an automatic takeover could not happen even with automatic failover on (a sentence), or None."""
        for reason in (self.takeover_blocker, self.copy_blocker, self.witness_blocker):
            if reason:
                return reason
        return None

    @property
    def blocker(self) -> str | None:
        """Why an automatic takeover would not happen now (a sentence), None if it would."""
        return "automatic failover is off" if not self.auto_failover else self.obstacle

    @property
    def takes_over(self) -> bool:
        return self.blocker is None


@dataclass(frozen=True)
class WatchState:
    phase: Phase = Phase.IDLE
    failures: int = 0
    first_failure_at: float | None = None  # the incident's start: the countdown runs from the first silence
    last_error: str = ""
    announced_s: int | None = None  # the last whole second a countdown event was published for
    mails: frozenset[str] = frozenset()  # keys of the mails already sent in this incident (no duplicates)
    last_heartbeat_at: float | None = None  # when the primary's last heartbeat arrived
    refused: str = ""  # what the primary said when it refused the relationship

    def deadline(self, config: WatchConfig) -> float | None:
        if self.first_failure_at is None or self.phase != Phase.COUNTDOWN:
            return None
        return self.first_failure_at + config.primary_timeout_s

    def seconds_left(self, now: float, config: WatchConfig) -> float | None:
        deadline = self.deadline(config)
        return None if deadline is None else max(0.0, deadline - now)

    @property
    def primary_reachable(self) -> bool | None:
        """Suspect still counts as reachable: one lost probe must not look like a lost primary anywhere."""
        if self.phase == Phase.IDLE:
            return None
        return self.phase in (Phase.REACHABLE, Phase.SUSPECT, Phase.REFUSED)

    def heartbeat_silent(self, now: float, config: WatchConfig) -> bool:
        """No heartbeat for as long as it takes to confirm a loss: the primary may be gone (or cut off both ways)."""
        window = config.failures_to_confirm * config.probe_interval_s
        return self.last_heartbeat_at is None or now - self.last_heartbeat_at >= window


# -- events --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Start:
    """Begin watching (became backup with a relationship). The primary is presumed reachable until probed."""

    now: float


@dataclass(frozen=True)
class Stop:
    """Stop watching (no longer a backup, relationship broken, or shutting down)."""

    now: float


@dataclass(frozen=True)
class ProbeOk:
    now: float


@dataclass(frozen=True)
class ProbeFailed:
    now: float
    error: str
    # When the failed probe was sent: the primary has been silent since then, not only since the probe gave up
    # (a probe to a vanished host fails only at its timeout). None: `now`.
    sent_at: float | None = None


@dataclass(frozen=True)
class ProbeRefused:
    """The primary answered, but refused the relationship (unknown token: broken there, another key or pair)."""

    now: float
    said: str


@dataclass(frozen=True)
class Heartbeat:
    """A heartbeat from the primary arrived (it lives and reaches us, whatever our own probes say)."""

    now: float


@dataclass(frozen=True)
class Tick:
    """Time passes (the monitor sends several a second); drives the countdown events and the deadline."""

    now: float


@dataclass(frozen=True)
class ConfigChanged:
    """The settings changed; e.g. auto failover turned on while awaiting a manual failover takes over now."""

    now: float


WatchEvent = Start | Stop | ProbeOk | ProbeFailed | ProbeRefused | Heartbeat | Tick | ConfigChanged


# -- effects -------------------------------------------------------------------------------------------------
class Publish:
    """Publish an event: a typed body (protocol/events.py); `Publish(EventType.X, {...})` is typed on the way."""

    __slots__ = ("body",)

    def __init__(self, event: EventBody | EventType, data: dict[str, Any] | None = None) -> None:
        self.body: AnyEvent = typed(event, data or {})

    @property
    def type(self) -> str:
        return self.body.type

    @property
    def data(self) -> dict[str, Any]:
        return wire_data(self.body)[1]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Publish) and self.body == other.body

    def __hash__(self) -> int:
        return hash(self.type)

    def __repr__(self) -> str:
        return f"Publish({self.body!r})"


@dataclass(frozen=True)
class Mail:
    key: str
    subject: str
    body: str


@dataclass(frozen=True)
class TakeOver:
    reason: str


Effect = Publish | Mail | TakeOver


def copy_blocker(synced_store: str | None, primary_store: str | None, peer_name: str) -> str | None:
    """Why this backup's copy must not become the site (a sentence), None when it holds a complete verified copy.

    `synced_store`: the store whose changes the last applied (digest-checked) sync reached; None if no sync ever
    completed. `primary_store`: the primary's store as last seen answering (None: never seen)."""
    if synced_store is None:
        return (f"this backup has never completed a sync from {peer_name}, so it holds no complete copy of the site "
                "data (taking over would serve an empty or partial site)")
    if primary_store and synced_store != primary_store:
        return (f"this backup's copy is of an earlier store than {peer_name}'s current one (its data was replaced "
                "since the last completed sync), so it is not a complete copy")
    return None


# -- the transition function ---------------------------------------------------------------------------------
def step(state: WatchState, event: WatchEvent, config: WatchConfig) -> tuple[WatchState, list[Effect]]:
    if isinstance(event, Start):
        return (state, []) if state.phase != Phase.IDLE else (WatchState(phase=Phase.REACHABLE), [])
    if isinstance(event, Stop):
        return WatchState(), []
    if state.phase in (Phase.IDLE, Phase.TOOK_OVER):
        return state, []
    if isinstance(event, Heartbeat):
        state = replace(state, last_heartbeat_at=event.now)
        if state.phase in (Phase.COUNTDOWN, Phase.AWAITING_MANUAL):
            return _answered(state, event.now, config, via="heartbeat")
        return state, []
    if isinstance(event, ProbeRefused):
        return _refused(state, event, config)
    if isinstance(event, ProbeOk):
        return _answered(state, event.now, config)
    if state.phase == Phase.REFUSED:
        return state, []  # a primary that refused the relationship is never taken over, whatever follows
    if isinstance(event, ProbeFailed):
        return _failed(state, event, config)
    if isinstance(event, ConfigChanged) and state.phase == Phase.AWAITING_MANUAL and config.takes_over:
        return _take_over(state, event.now, config, reason="automatic failover was enabled after the timeout")
    if isinstance(event, Tick | ConfigChanged):
        return _tick(state, event.now, config)
    return state, []


def _answered(state: WatchState, now: float, config: WatchConfig,
              via: str = "probe") -> tuple[WatchState, list[Effect]]:
    fresh = WatchState(phase=Phase.REACHABLE, last_heartbeat_at=state.last_heartbeat_at)
    if state.phase in (Phase.REACHABLE, Phase.SUSPECT):
        # A probe or two lost and then an answer: no incident, nobody is told (no flapping).
        return fresh, []
    if state.phase == Phase.REFUSED:
        return fresh, [Publish(PrimaryRefused(refused=False, said="",
                                              detail="The primary recognises the relationship again."))]
    down_s = now - (state.first_failure_at or now)
    effects: list[Effect] = [Publish(PrimaryRecovered(down_s=round(down_s, 1), was=state.phase.value, via=via))]
    if "recovered" not in state.mails:
        effects.append(Mail("recovered", *messages.recovered(config, down_s, state.phase == Phase.COUNTDOWN)))
    return fresh, effects


def _refused(state: WatchState, event: ProbeRefused, config: WatchConfig) -> tuple[WatchState, list[Effect]]:
    if state.phase == Phase.REFUSED:
        return replace(state, refused=event.said), []
    detail = messages.refused_detail(config, event.said)
    effects: list[Effect] = [Publish(PrimaryRefused(refused=True, said=event.said, detail=detail))]
    mails = state.mails
    if "refused" not in mails:
        mails = mails | {"refused"}
        effects.append(Mail("refused", *messages.refused(config, event.said)))
    return WatchState(phase=Phase.REFUSED, refused=event.said, mails=mails,
                      last_heartbeat_at=state.last_heartbeat_at), effects


def _failed(state: WatchState, event: ProbeFailed, config: WatchConfig) -> tuple[WatchState, list[Effect]]:
    first = state.first_failure_at
    if first is None:
        first = min(event.now, event.sent_at) if event.sent_at is not None else event.now
    state = replace(state, failures=state.failures + 1, first_failure_at=first, last_error=event.error)
    if state.phase == Phase.REACHABLE:
        state = replace(state, phase=Phase.SUSPECT)
    return _tick(state, event.now, config)


def _confirmed(state: WatchState, now: float, config: WatchConfig) -> bool:
    if not state.heartbeat_silent(now, config):
        return False  # our probes fail, but the primary's heartbeats arrive: a one-way loss, not a lost primary
    silent_for = now - (state.first_failure_at if state.first_failure_at is not None else now)
    return (state.failures >= config.failures_to_confirm
            or (state.failures >= 1 and silent_for >= config.failures_to_confirm * config.probe_interval_s))


def mail_points(timeout_s: float) -> list[float]:
    """Seconds left at which a countdown mail goes out: halfway, 60 s and 10 s, scaled for short timeouts."""
    points = {timeout_s / 2}
    points.update(p for p in (60.0, 10.0) if p < timeout_s / 2)
    if timeout_s < 20:
        points.add(max(1.0, timeout_s / 5))  # one last warning shortly before the end of a short countdown
    return sorted((p for p in points if p < timeout_s), reverse=True)


def _tick(state: WatchState, now: float, config: WatchConfig) -> tuple[WatchState, list[Effect]]:
    effects: list[Effect] = []
    if state.phase == Phase.SUSPECT:
        if not _confirmed(state, now, config):
            return state, []
        first = state.first_failure_at
        if first is not None and state.last_heartbeat_at is not None:
            first = max(first, state.last_heartbeat_at)  # the primary lived until its last heartbeat
        state = replace(state, phase=Phase.COUNTDOWN, first_failure_at=first)
        left = state.seconds_left(now, config) or 0.0
        effects.append(Publish(PrimaryLost(
            error=state.last_error, failures=state.failures, failover_in_s=math.ceil(left),
            auto_failover=config.auto_failover, action=_action(config),
            takeover_blocked=config.obstacle if config.auto_failover else None)))
        # Milestones already behind us are covered by this first mail: mark them sent.
        passed = {f"left:{p:g}" for p in mail_points(config.primary_timeout_s) if p >= left}
        state = replace(state, mails=state.mails | passed | {"lost"})
        effects.append(Mail("lost", *messages.lost(config, left, state.last_error)))
    if state.phase == Phase.COUNTDOWN:
        left = state.seconds_left(now, config) or 0.0
        if left <= 0:
            return _deadline(state, now, config, effects)
        whole = math.ceil(left)
        if whole != state.announced_s:
            state = replace(state, announced_s=whole)
            # The same obstacle as primary_lost names (method, copy or witness): a countdown that will end in no
            # takeover must say why, or the console can only say "the backup says it will not".
            effects.append(Publish(Countdown(failover_in_s=whole, auto_failover=config.auto_failover,
                                             action=_action(config),
                                             takeover_blocked=config.obstacle if config.auto_failover else None)))
        for point in mail_points(config.primary_timeout_s):
            key = f"left:{point:g}"
            if left <= point and key not in state.mails:
                state = replace(state, mails=state.mails | {key})
                effects.append(Mail(key, *messages.countdown(config, left)))
                break  # at most one countdown mail per step; a later tick sends the next if it is also due
    return state, effects


def _action(config: WatchConfig) -> FailoverAction:
    return "takeover" if config.takes_over else "await_manual_failover"


def _deadline(state: WatchState, now: float, config: WatchConfig,
              effects: list[Effect]) -> tuple[WatchState, list[Effect]]:
    if config.takes_over:
        new_state, more = _take_over(state, now, config, reason="the primary did not answer for "
                                     f"{config.primary_timeout_s:g} s")
        return new_state, effects + more
    reason = messages.why_no_takeover(config)
    effects.append(Publish(AwaitingManualFailover(reason=reason)))
    mails = state.mails
    if "awaiting" not in mails:
        mails = mails | {"awaiting"}
        effects.append(Mail("awaiting", *messages.awaiting(config, reason)))
    return replace(state, phase=Phase.AWAITING_MANUAL, mails=mails), effects


def _take_over(state: WatchState, now: float, config: WatchConfig,
               reason: str) -> tuple[WatchState, list[Effect]]:
    del now, config
    # The takeover mail is sent by the monitor once the takeover has run, so that it can say how it went.
    return replace(state, phase=Phase.TOOK_OVER, mails=state.mails | {"takeover"}), [TakeOver(reason)]
