"""One source per fact (issue 15, point 3): the same second everywhere, banners that end with their condition,
words that match what happened, readiness that says whether the backup will take over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pa_console.console.state.notifier import NoticeKind, Urgency
from pa_console.console.state.readiness import check_readiness
from pa_console.console.state.status import ConnectionStatus
from pa_console.console.views.main_window import MainWindow
from pa_console.protocol.events import (
    Countdown,
    Fenced,
    KeepAsideFailed,
    PrimaryLost,
    PrimaryRecovered,
    RelationshipBroken,
    SyncFinished,
    Takeover,
    TakeoverBlocked,
)
from pa_console.protocol.models import FailoverSettings, Role
from tests.ui.fakes import fake_fleet
from tests.ui.test_failover_pane import Confirm
from tests.unit.console.factories import STARTED, FakeClock, event, pair


def _window(qtbot: Any, tmp_path: Path, clock: FakeClock | None = None, **backup_health: Any) -> Any:
    primary, backup = pair(clock, **backup_health)
    fleet = fake_fleet(tmp_path, primary, backup)
    window = MainWindow(fleet, confirm=Confirm())
    qtbot.addWidget(window)
    window.show()
    window.appliances.select(backup.id)
    return window, fleet, primary, backup


def _seconds(text: str) -> str:
    import re

    found = re.findall(r"(\d+) s\b", text)
    assert found, text
    return found[-1]


def test_banner_diagram_takeover_box_and_notification_show_the_same_second(
    qtbot: Any, aloop: Any, tmp_path: Path
) -> None:
    clock = FakeClock()
    window, fleet, _, backup = _window(qtbot, tmp_path, clock)
    backup.set_settings(FailoverSettings(auto_failover=True))
    lost = event(PrimaryLost(error="connection refused", failover_in_s=30, auto_failover=True, action="takeover"))
    backup.apply_event(lost)
    fleet.notifier.on_event(backup.name, lost)
    tick = event(Countdown(failover_in_s=12, auto_failover=True, action="takeover"))
    backup.apply_event(tick)
    notice = fleet.notifier.on_event(backup.name, tick)
    box, diagram = window.failover.takeover, window.failover.diagram

    def views() -> list[str]:
        assert diagram.picture is not None
        return [window.banner.texts()[0], diagram.picture.link_label, box.big_countdown.text(), box.countdown.text()]

    assert [_seconds(t) for t in views()] == ["12"] * 4
    assert notice is not None and notice.kind == NoticeKind.COUNTDOWN and _seconds(notice.title) == "12"
    assert window.banner.texts()[0] == ("beta: Primary lost (connection refused) · automatic takeover in 12 s")
    # Time passes between the agent's ticks: every view moves on from the same clock, in step.
    clock.advance(3.4)
    qtbot.waitUntil(lambda: [_seconds(t) for t in views()] == ["9"] * 4, timeout=3000)


def test_banners_end_with_their_condition_and_are_coloured_by_severity(
    qtbot: Any, aloop: Any, tmp_path: Path
) -> None:
    window, fleet, primary, backup = _window(qtbot, tmp_path, last_sync_at=None, last_sync_status="never")
    # A message of the console's own that is true until the first sync: it ends with it, in info colours.
    fleet.banners.post("demo", "The first sync starts in a few seconds.", Urgency.INFO,
                       until=lambda: backup.health is not None and backup.health.last_sync_at is not None)
    qtbot.waitUntil(lambda: window.banner.texts() == ["The first sync starts in a few seconds."])
    assert window.banner.label.property("role") == "banner-info"
    backup.apply_event(event(SyncFinished(started_at=STARTED, finished_at=STARTED, rows_moved=1)))
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=3000)

    # A lost primary with automatic failover off: critical, and it ends when the primary answers again.
    backup.apply_event(event(PrimaryLost(error="timed out", failover_in_s=20, action="await_manual_failover")))
    qtbot.waitUntil(lambda: window.banner.isVisible())
    assert window.banner.texts() == ["beta: Primary lost (timed out) · manual failover needed "
                                     "(automatic failover is off)"]
    assert window.banner.label.property("role") == "banner-error"
    backup.apply_event(event(PrimaryRecovered(down_s=5)))
    qtbot.waitUntil(lambda: not window.banner.isVisible())

    # A planned swap says so (not "took over"), in info colours, and ends when the relationship is broken.
    backup.apply_event(event(Takeover(epoch=4, planned=True, how="planned")))
    qtbot.waitUntil(lambda: window.banner.isVisible())
    assert window.banner.texts() == ["beta is now the primary (planned swap). The roles were swapped as asked."]
    assert window.banner.label.property("role") == "banner-info"
    backup.apply_event(event(RelationshipBroken(peer="alpha", reason="broken by an administrator")))
    qtbot.waitUntil(lambda: not window.banner.isVisible())

    # An automatic takeover is a warning, worded as such.
    backup.apply_event(event(Takeover(epoch=5, how="automatic")))
    qtbot.waitUntil(lambda: window.banner.isVisible())
    assert window.banner.texts()[0].startswith("beta took over automatically.")
    assert window.banner.label.property("role") == "banner-warning"
    # The old primary, offline now, shows its role as last known (in the tree and the diagram).
    primary.set_status(ConnectionStatus.OFFLINE, "gone")
    item = window.appliances.item_for(primary.id)
    assert item is not None
    qtbot.waitUntil(lambda: item.text(1) == "primary (last known)")
    assert backup.role == Role.PRIMARY
    # The pair in the tree and the diagram tell the same, seen from the appliance that answers as primary.
    window.failover.refresh_view()
    diagram = window.failover.diagram
    qtbot.waitUntil(lambda: diagram.picture is not None
                    and window.appliances.topLevelItem(0).text(2) == diagram.picture.link_label == "alpha is offline")


def test_readiness_says_automatic_failover_off_or_blocked_and_why(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    window, _, primary, backup = _window(qtbot, tmp_path)
    items = {i.key: i for i in check_readiness(backup, primary).items}
    assert items["auto"].title == "Automatic failover: off" and items["auto"].ok is not True
    assert items["copy"].title == "The backup holds a complete copy" and items["copy"].ok is True
    backup.set_settings(FailoverSettings(auto_failover=True))
    assert {i.key: i for i in check_readiness(backup, primary).items}["auto"].title == "Automatic failover: on"
    # On, but the agent says it cannot take over: blocked, with its reason; no countdown to nothing.
    why = "the DNS server 192.0.2.53 does not answer"
    backup.apply_event(event(PrimaryLost(error="refused", failover_in_s=30, auto_failover=True,
                                         action="await_manual_failover", takeover_blocked=why)))
    auto = {i.key: i for i in check_readiness(backup, primary).items}["auto"]
    assert auto.title == f"Automatic failover: blocked ({why})" and auto.ok is False
    box = window.failover.takeover
    qtbot.waitUntil(lambda: "manual failover needed" in box.countdown.text())
    assert why in box.countdown.text() and not box.big_countdown.isVisible()
    readiness = window.failover.readiness
    rows = [readiness.item(i).text() for i in range(readiness.count())]
    assert f"✘ Automatic failover: blocked ({why}): beta will not take over by itself: {why}." in rows


def test_the_agents_word_on_blocked_takeover_and_fencing_is_shown(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    window, _, primary, backup = _window(qtbot, tmp_path)
    backup.set_settings(FailoverSettings(auto_failover=True))
    backup.apply_event(event(TakeoverBlocked(blocked=True, reason="no witness address answers")))
    auto = {i.key: i for i in check_readiness(backup, primary).items}["auto"]
    assert auto.title == "Automatic failover: blocked (no witness address answers)" and auto.ok is False
    backup.apply_event(event(TakeoverBlocked(blocked=False)))
    assert {i.key: i for i in check_readiness(backup, primary).items}["auto"].title == "Automatic failover: on"
    primary.apply_event(event(Fenced(peer="beta", peer_epoch=5, previous_epoch=4, epoch=6)))
    assert primary.role == Role.BACKUP
    qtbot.waitUntil(lambda: "alpha stepped down to backup (fenced). beta is primary at a higher epoch (5)."
                    in window.banner.texts())
    primary.apply_event(event(KeepAsideFailed(peer="beta", error="disk full", detail="The disk is full.")))
    qtbot.waitUntil(lambda: window.banner.texts()[0] == "alpha is fenced: The disk is full.")
    assert window.banner.label.property("role") == "banner-error"
