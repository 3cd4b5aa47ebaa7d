"""The backup's watch of its primary, driven through every transition without sleeping (time is in events)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from pa_console.agent.failover.machine import (
    ConfigChanged,
    Effect,
    Mail,
    Phase,
    ProbeFailed,
    ProbeOk,
    Publish,
    Start,
    Stop,
    TakeOver,
    Tick,
    WatchConfig,
    WatchEvent,
    WatchState,
    mail_points,
    step,
)
from pa_console.protocol.models import EventType

AUTO = WatchConfig(primary_timeout_s=10, probe_interval_s=1, auto_failover=True, own_name="beta",
                   peer_name="alpha", address="127.0.0.2:8443")
MANUAL = WatchConfig(primary_timeout_s=10, probe_interval_s=1, auto_failover=False, own_name="beta",
                     peer_name="alpha")


class Run:
    """Feeds events and keeps every effect, as the monitor would."""

    def __init__(self, config: WatchConfig) -> None:
        self.config = config
        self.state, _ = step(WatchState(), Start(0.0), config)
        self.effects: list[Effect] = []

    def feed(self, *events: WatchEvent) -> list[Effect]:
        new: list[Effect] = []
        for event in events:
            self.state, effects = step(self.state, event, self.config)
            new += effects
        self.effects += new
        return new

    def fail_until(self, until: float, start: float = 0.0, every: float = 1.0) -> None:
        """The primary is silent: a probe fails every `every` s, ticks every 0.25 s in between."""
        t = start
        while t <= until + 1e-9:
            if abs(t / every - round(t / every)) < 1e-9:
                self.feed(ProbeFailed(t, "connection refused"))
            self.feed(Tick(t))
            t = round(t + 0.25, 6)

    def mails(self) -> list[str]:
        return [e.key for e in self.effects if isinstance(e, Mail)]

    def events(self, type_: EventType) -> list[Publish]:
        return [e for e in self.effects if isinstance(e, Publish) and e.type == type_]


def kinds(effects: Iterable[Effect]) -> list[str]:
    return [e.type.value if isinstance(e, Publish) else type(e).__name__ for e in effects]


def test_starts_reachable_and_idle_before_start() -> None:
    assert WatchState().primary_reachable is None
    run = Run(AUTO)
    assert run.state.phase == Phase.REACHABLE and run.state.primary_reachable is True
    assert step(WatchState(), ProbeFailed(0, "x"), AUTO) == (WatchState(), [])


def test_one_or_two_lost_probes_are_not_a_lost_primary() -> None:
    run = Run(AUTO)
    assert run.feed(ProbeFailed(1, "timeout"), Tick(1.5)) == []
    assert run.state.phase == Phase.SUSPECT and run.state.primary_reachable is True
    assert run.feed(ProbeFailed(2, "timeout"), Tick(2.5)) == []
    assert run.feed(ProbeOk(3)) == []
    assert run.state == WatchState(phase=Phase.REACHABLE)
    assert run.effects == []


def test_three_failures_confirm_the_loss_and_start_the_countdown_from_the_first_silence() -> None:
    run = Run(AUTO)
    run.feed(ProbeFailed(1, "a"), ProbeFailed(2, "b"))
    effects = run.feed(ProbeFailed(3, "connection refused"))
    assert kinds(effects) == ["primary_lost", "Mail", "countdown"]
    lost = effects[0]
    assert isinstance(lost, Publish)
    assert lost.data["failover_in_s"] == 8 and lost.data["action"] == "takeover"
    assert lost.data["error"] == "connection refused"
    assert run.state.phase == Phase.COUNTDOWN and run.state.primary_reachable is False
    assert run.state.seconds_left(3, AUTO) == 8
    mail = effects[1]
    assert isinstance(mail, Mail) and "8 s" in mail.subject and "takes over" in mail.body


def test_silence_of_three_intervals_confirms_even_with_slow_probes() -> None:
    run = Run(AUTO)
    run.feed(ProbeFailed(1, "timed out"))
    assert run.feed(Tick(3.9)) == []
    assert kinds(run.feed(Tick(4.0)))[:1] == ["primary_lost"]


def test_countdown_ticks_once_per_second_mails_at_milestones_and_takes_over_once() -> None:
    run = Run(AUTO)
    run.fail_until(11)
    ticks = [e.data["failover_in_s"] for e in run.events(EventType.COUNTDOWN)]
    assert ticks == [8, 7, 6, 5, 4, 3, 2, 1]  # silent from t=0, lost at t=2 with 8 s left; one per second
    assert ticks == sorted(set(ticks), reverse=True)
    # lost (with the 5 s milestone still ahead), halfway, the short-timeout last warning (2 s), takeover.
    assert mail_points(10) == [5.0, 2.0]
    assert run.mails() == ["lost", "left:5", "left:2"]
    takeovers = [e for e in run.effects if isinstance(e, TakeOver)]
    assert len(takeovers) == 1 and "10 s" in takeovers[0].reason
    assert run.state.phase == Phase.TOOK_OVER
    # Nothing more happens in this incident, whatever arrives.
    assert run.feed(ProbeFailed(12, "x"), Tick(13), ProbeOk(14), ConfigChanged(15)) == []


def test_countdown_ticks_start_at_loss() -> None:
    run = Run(AUTO)
    run.feed(ProbeFailed(1, "x"), ProbeFailed(2, "x"))
    effects = run.feed(ProbeFailed(3, "x"))
    ticks = [e.data["failover_in_s"] for e in effects if isinstance(e, Publish) and e.type == EventType.COUNTDOWN]
    assert ticks == [8]
    assert run.feed(Tick(3.5)) == []  # same whole second: no second tick
    assert kinds(run.feed(Tick(4.01))) == ["countdown"]


def test_recovery_during_countdown_cancels_and_mails_once() -> None:
    run = Run(AUTO)
    run.fail_until(5)
    assert run.state.phase == Phase.COUNTDOWN
    effects = run.feed(ProbeOk(5.5))
    assert kinds(effects) == ["primary_recovered", "Mail"]
    mail = effects[1]
    assert isinstance(mail, Mail) and "back" in mail.subject and "cancelled" in mail.body
    assert run.state == WatchState(phase=Phase.REACHABLE)
    assert run.feed(Tick(20), ProbeOk(21)) == []
    assert not any(isinstance(e, TakeOver) for e in run.effects)


def test_a_new_incident_after_recovery_mails_again() -> None:
    run = Run(AUTO)
    run.fail_until(4)
    run.feed(ProbeOk(4.5))
    run.fail_until(9, start=5)
    assert run.mails().count("lost") == 2 and run.mails().count("recovered") == 1


def test_no_duplicate_mails_when_probes_fail_many_times_per_second() -> None:
    run = Run(AUTO)
    t = 0.0
    while t < 11:
        run.feed(ProbeFailed(t, "x"), Tick(t))
        t = round(t + 0.1, 6)
    assert run.mails() == ["lost", "left:5", "left:2"]
    assert len([e for e in run.effects if isinstance(e, TakeOver)]) == 1


def test_manual_mode_awaits_and_says_so_once() -> None:
    run = Run(MANUAL)
    run.fail_until(30)
    assert run.state.phase == Phase.AWAITING_MANUAL and run.state.primary_reachable is False
    assert not any(isinstance(e, TakeOver) for e in run.effects)
    assert run.mails() == ["lost", "left:5", "left:2", "awaiting"]
    assert len(run.events(EventType.AWAITING_MANUAL_FAILOVER)) == 1
    assert run.events(EventType.AWAITING_MANUAL_FAILOVER)[0].data["reason"] == "automatic failover is off"
    assert run.state.seconds_left(30, MANUAL) is None
    lost_mail = next(e for e in run.effects if isinstance(e, Mail) and e.key == "lost")
    assert "will NOT take over" in lost_mail.body
    effects = run.feed(ProbeOk(31))
    assert kinds(effects) == ["primary_recovered", "Mail"]


def test_ineligible_shared_address_blocks_takeover_with_its_reason() -> None:
    blocked = WatchConfig(primary_timeout_s=10, probe_interval_s=1, auto_failover=True,
                          takeover_blocker="10.9.9.9 is not in a subnet both appliances share")
    run = Run(blocked)
    run.fail_until(12)
    assert run.state.phase == Phase.AWAITING_MANUAL
    reason = run.events(EventType.AWAITING_MANUAL_FAILOVER)[0].data["reason"]
    assert isinstance(reason, str) and "not in a subnet" in reason
    assert run.events(EventType.PRIMARY_LOST)[0].data["takeover_blocked"] == blocked.takeover_blocker


def test_enabling_auto_failover_while_awaiting_takes_over() -> None:
    run = Run(MANUAL)
    run.fail_until(12)
    assert run.feed(ConfigChanged(13)) == []  # still manual
    run.config = AUTO
    effects = run.feed(ConfigChanged(14))
    assert [type(e) for e in effects] == [TakeOver]
    assert run.state.phase == Phase.TOOK_OVER


def test_a_longer_timeout_set_during_the_countdown_moves_the_deadline() -> None:
    run = Run(AUTO)
    run.fail_until(5)
    run.config = WatchConfig(primary_timeout_s=60, probe_interval_s=1, auto_failover=True)
    run.fail_until(20, start=6)
    assert run.state.phase == Phase.COUNTDOWN
    assert run.state.seconds_left(20, run.config) == pytest.approx(40)


def test_deadline_already_passed_at_confirmation_takes_over_at_once() -> None:
    short = WatchConfig(primary_timeout_s=2, probe_interval_s=1, auto_failover=True)
    run = Run(short)
    run.feed(ProbeFailed(0, "x"), ProbeFailed(1, "x"))
    effects = run.feed(ProbeFailed(2, "x"))
    assert kinds(effects) == ["primary_lost", "Mail", "TakeOver"]


def test_stop_forgets_the_incident_and_start_is_idempotent() -> None:
    run = Run(AUTO)
    run.fail_until(5)
    run.feed(Stop(6))
    assert run.state == WatchState()
    assert run.feed(ProbeFailed(7, "x"), Tick(8)) == []
    run.feed(Start(9))
    assert run.state.phase == Phase.REACHABLE
    run.feed(ProbeFailed(10, "x"))
    before = run.state
    run.feed(Start(10.5))
    assert run.state == before


@pytest.mark.parametrize(("timeout", "points"), [(300, [150, 60, 10]), (100, [50, 10]), (20, [10]),
                                                 (6, [3, 1.2]), (2, [1])])
def test_mail_points_scale_with_the_timeout(timeout: float, points: list[float]) -> None:
    assert mail_points(timeout) == pytest.approx(points)


def test_long_timeout_mails_at_halfway_60_and_10_seconds() -> None:
    config = WatchConfig(primary_timeout_s=300, probe_interval_s=1, auto_failover=False)
    run = Run(config)
    t = 0.0
    while t <= 302:
        run.feed(ProbeFailed(t, "x"), Tick(t + 0.5))
        t += 1
    assert run.mails() == ["lost", "left:150", "left:60", "left:10", "awaiting"]
    assert len(run.events(EventType.COUNTDOWN)) == 298


def test_a_slow_failed_probe_dates_the_silence_from_when_it_was_sent() -> None:
    run = Run(AUTO)
    run.feed(ProbeFailed(3.0, "did not answer in time", sent_at=1.0))
    assert run.state.first_failure_at == 1.0
    assert run.state.phase == Phase.SUSPECT
    effects = run.feed(ProbeFailed(6.0, "did not answer in time", sent_at=4.0))
    assert run.state.first_failure_at == 1.0  # the incident's start does not move
    assert kinds(effects)[:1] == ["primary_lost"]  # 5 s (> 3 intervals) of silence since 1.0, only 2 failures
    assert run.state.seconds_left(6.5, AUTO) == 4.5
