from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pa_console.console.state.notifier import Notice, NoticeKind, Notifier
from pa_console.protocol.events import AwaitingManualFailover, Countdown, Demoted, PrimaryLost, SyncFailed, Takeover

from .factories import STARTED, FakeClock, event


class Sink:
    def __init__(self) -> None:
        self.shown: list[Notice] = []

    def show(self, notice: Notice) -> None:
        self.shown.append(notice)


def make() -> tuple[Notifier, Sink, FakeClock]:
    clock = FakeClock()
    notifier = Notifier(clock=clock)
    sink = Sink()
    notifier.add_sink(sink)
    return notifier, sink, clock


def test_countdown_told_at_thresholds_not_every_second() -> None:
    notifier, sink, _ = make()
    notifier.on_event("beta", event(PrimaryLost()))
    for left in range(65, -1, -1):
        notifier.on_event("beta", event(Countdown(failover_in_s=left, auto_failover=True)))
    notifier.on_event("beta", event(Takeover(epoch=2)))
    kinds = [n.kind for n in sink.shown]
    assert kinds == [NoticeKind.PRIMARY_LOST] + [NoticeKind.COUNTDOWN] * 4 + [NoticeKind.TAKEOVER]
    # The first tick (65 s) is told, then the 60, 30 and 10 s marks.
    assert "1 min 05 s" in sink.shown[1].title
    assert "1 min 00 s" in sink.shown[2].title
    assert "automatically" in sink.shown[2].body


def test_duplicates_are_dropped_per_incident() -> None:
    notifier, sink, _ = make()
    notifier.on_event("beta", event(PrimaryLost()))
    notifier.on_event("beta", event(AwaitingManualFailover()))
    notifier.on_event("beta", event(AwaitingManualFailover()))
    assert [n.kind for n in sink.shown] == [NoticeKind.PRIMARY_LOST, NoticeKind.MANUAL_NEEDED]
    # A new incident is told again.
    notifier.on_event("beta", event(PrimaryLost()))
    assert len(sink.shown) == 3


def test_sync_failure_repeats_only_after_quiet_time() -> None:
    notifier, sink, clock = make()
    notifier.on_event("beta", event(SyncFailed(started_at=STARTED, error="disk full")))
    notifier.on_event("beta", event(SyncFailed(started_at=STARTED, error="disk full")))
    assert len(sink.shown) == 1
    clock.advance(601)
    notifier.on_event("beta", event(SyncFailed(started_at=STARTED, error="disk full")))
    assert len(sink.shown) == 2


def test_history_is_not_notified() -> None:
    notifier, sink, _ = make()
    old = datetime.now(UTC) - timedelta(hours=1)
    assert notifier.on_event("beta", event(PrimaryLost(), ts=old)) is None
    assert sink.shown == []


def test_rate_limit_spares_critical() -> None:
    notifier, sink, _ = make()
    for i in range(20):
        notifier.on_event(f"b{i}", event(SyncFailed(started_at=STARTED, error="x")))
    assert len(sink.shown) == 8 and notifier.dropped == 12
    notifier.on_event("zeta", event(PrimaryLost()))
    assert sink.shown[-1].kind == NoticeKind.PRIMARY_LOST


def test_disabled_kind_and_keys() -> None:
    notifier, sink, _ = make()
    notifier.enabled.discard(NoticeKind.DEMOTED)
    notifier.on_event("alpha", event(Demoted(epoch=3)))
    assert sink.shown == []
    assert notifier.keys_compared("alpha ⇄ beta", match=False) is not None
    assert notifier.keys_compared("alpha ⇄ beta", match=False) is None
    notifier.keys_compared("alpha ⇄ beta", match=True)
    assert notifier.keys_compared("alpha ⇄ beta", match=False) is not None


def test_each_demotion_is_told_once() -> None:
    notifier, sink, _ = make()
    notifier.on_event("alpha", event(Demoted(peer="beta", peer_epoch=3)))
    notifier.on_event("alpha", event(Demoted(peer="beta", peer_epoch=3)))
    notifier.on_event("alpha", event(Demoted(peer="beta", peer_epoch=5, kept="/data/kept-1")))
    assert [n.kind for n in sink.shown] == [NoticeKind.DEMOTED, NoticeKind.DEMOTED]
    assert "kept aside at /data/kept-1" in sink.shown[1].body
