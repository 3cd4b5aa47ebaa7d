from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pa_console.console.state.appliance import ApplianceRef, ApplianceState
from pa_console.console.state.pairs import group_appliances
from pa_console.console.state.picture import build_picture
from pa_console.console.state.progress import Coalescer
from pa_console.console.state.status import ConnectionStatus, LinkState
from pa_console.protocol.events import Countdown, PrimaryRecovered, SyncFailed, SyncProgressed, SyncStarted, Takeover
from pa_console.protocol.models import Role, SyncProgress, SyncStatus

from .factories import FakeClock, appliance, event, pair


def test_changed_signal_names_what_changed() -> None:
    state = ApplianceState(ApplianceRef("x", "x", "h", 1, "ff"))
    seen: list[str] = []
    state.changed.connect(seen.append)
    state.set_status(ConnectionStatus.OFFLINE, "down")
    state.set_status(ConnectionStatus.OFFLINE, "down")  # no change, no event
    assert seen == ["status"]
    assert state.status_detail == "down"


def test_countdown_event_sets_deadline_that_ticks_down() -> None:
    clock = FakeClock()
    _, backup = pair(clock)
    backup.apply_event(event(Countdown(failover_in_s=30, auto_failover=True)))
    assert backup.countdown_left() == 30
    clock.advance(12)
    assert backup.countdown_left() == 18
    assert backup.health is not None and backup.health.primary_reachable is False
    backup.apply_event(event(PrimaryRecovered()))
    assert backup.countdown_left() is None


def test_sync_events_update_status_and_report() -> None:
    _, backup = pair()
    backup.apply_event(event(SyncStarted()))
    assert backup.health is not None and backup.health.last_sync_status == SyncStatus.RUNNING
    progress = backup.apply_event(event(SyncProgressed(phase="recordings", bytes_done=5, bytes_total=10)))
    assert progress == SyncProgress(phase="recordings", bytes_done=5, bytes_total=10)
    backup.apply_event(
        event(SyncFailed(started_at=datetime.now(UTC), error="disk full"))
    )
    assert backup.health.last_sync_status == SyncStatus.FAILED
    assert backup.last_report is not None and backup.last_report.error == "disk full"
    assert backup.progress is None


def test_takeover_makes_primary_and_stops_countdown() -> None:
    _, backup = pair()
    backup.apply_event(event(Countdown(failover_in_s=1, auto_failover=True)))
    backup.apply_event(event(Takeover(epoch=7)))
    assert backup.role == Role.PRIMARY
    assert backup.health is not None and backup.health.epoch == 7
    assert backup.countdown_left() is None


def test_pairs_group_by_peer_and_order_primary_first() -> None:
    primary, backup = pair()
    lone = appliance("gamma", 1003)
    groups = group_appliances([backup, lone, primary])
    assert [tuple(s.name for s in g.members) for g in groups] == [("alpha", "beta"), ("gamma",)]
    assert groups[0].is_pair and not groups[1].is_pair


def test_picture_link_states() -> None:
    primary, backup = pair()
    assert build_picture(primary, backup).link == LinkState.IN_SYNC
    stale = datetime.now(UTC) - timedelta(minutes=30)
    backup.set_health(backup.health.model_copy(update={"last_sync_at": stale}))  # type: ignore[union-attr]
    picture = build_picture(primary, backup)
    assert picture.link == LinkState.BEHIND and picture.behind_minutes == 30
    assert "30 min" in picture.link_label
    backup.apply_event(event(SyncStarted()))
    assert build_picture(primary, backup).link == LinkState.SYNCING
    backup.apply_event(event(SyncFailed(started_at=stale, error="peer gone")))
    broken = build_picture(backup, primary)
    assert broken.link == LinkState.BROKEN and "peer gone" in broken.link_label
    backup.apply_event(event(Countdown(failover_in_s=42, auto_failover=True, action="takeover")))
    lost = build_picture(primary, backup)
    assert lost.link == LinkState.PRIMARY_LOST and lost.link_label == "Primary lost · automatic takeover in 42 s"
    # Automatic failover off: no countdown to nothing.
    backup.apply_event(event(Countdown(failover_in_s=41, auto_failover=False, action="await_manual_failover")))
    lost = build_picture(primary, backup)
    assert lost.link_label == "Primary lost · manual failover needed (automatic failover is off)"
    assert lost.countdown_s is None
    assert lost.left.name == "alpha" and lost.right is not None and lost.right.role == "backup"


def test_picture_without_relationship() -> None:
    lone = appliance("gamma", 1003)
    picture = build_picture(lone, None)
    assert picture.link == LinkState.NONE and picture.right is None


def test_coalescer_passes_first_then_latest_per_interval() -> None:
    clock = FakeClock()
    delivered: list[int] = []
    scheduled: list[tuple[float, object]] = []
    coalescer: Coalescer[int] = Coalescer(
        delivered.append, lambda d, cb: scheduled.append((d, cb)), interval=0.25, clock=clock
    )
    coalescer.offer(1)
    for value in range(2, 50):
        clock.advance(0.01)
        coalescer.offer(value)
    assert delivered == [1]
    assert len(scheduled) == 1 and abs(scheduled[0][0] - 0.24) < 1e-9
    clock.advance(0.3)
    coalescer.flush()
    assert delivered == [1, 49]
    clock.advance(1)
    coalescer.offer(50)
    assert delivered == [1, 49, 50]
    coalescer.offer(51)
    coalescer.cancel()
    assert delivered == [1, 49, 50]


def test_an_appliance_the_console_lost_shows_its_last_known_role() -> None:
    primary, backup = pair()
    primary.set_status(ConnectionStatus.OFFLINE, "gone")
    picture = build_picture(backup, primary)
    nodes = {n.name: n for n in (picture.left, picture.right) if n is not None}
    assert nodes["alpha"].role == "primary (last known)"
    assert nodes["beta"].role == "backup"


def test_the_countdown_keeps_one_deadline_and_never_steps_back() -> None:
    clock = FakeClock()
    _, backup = pair(clock)
    backup.apply_event(event(Countdown(failover_in_s=12, auto_failover=True, action="takeover")))
    clock.advance(0.3)
    assert backup.health is not None
    backup.set_health(backup.health.model_copy(update={"failover_in_s": 11.4}))  # a poll: the exact figure
    assert backup.countdown_left() == pytest.approx(11.4)
    clock.advance(0.6)
    backup.apply_event(event(Countdown(failover_in_s=11, auto_failover=True, action="takeover")))  # rounded up
    assert backup.countdown_left() == pytest.approx(10.8)  # the earlier estimate kept: no step back
    backup.apply_event(event(Countdown(failover_in_s=30, auto_failover=True, action="takeover")))  # a new count
    assert backup.countdown_left() == pytest.approx(30)
