"""An appliance the console cannot reach: its last words are not shown as the present, and no button offers what
cannot be done.

Found trying the console: with the backup's agent hung, its Failover pane still said "The primary is reachable." and
offered an enabled Become Primary (which could only fail)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pa_console.console.state.status import ConnectionStatus
from pa_console.console.views.failover_pane import FailoverPane
from tests.ui.fakes import fake_fleet
from tests.unit.console.factories import pair


def make_pane(qtbot: Any, tmp_path: Path) -> tuple[FailoverPane, Any, Any]:
    primary, backup = pair()
    pane = FailoverPane(fake_fleet(tmp_path, primary, backup))
    qtbot.addWidget(pane)
    pane.show()
    return pane, primary, backup


def test_an_unreachable_backup_does_not_claim_its_primary_is_reachable(qtbot: Any, aloop: Any,
                                                                       tmp_path: Path) -> None:
    pane, _primary, backup = make_pane(qtbot, tmp_path)
    pane.set_appliance(backup.id)
    box = pane.takeover
    assert box.countdown.text() == "The primary is reachable." and box.become_primary.isEnabled()
    backup.set_status(ConnectionStatus.OFFLINE, "127.0.0.1:1002 accepts connections but did not answer in time.")
    text = box.countdown.text()
    assert "The primary is reachable" not in text, text
    assert "The console cannot reach beta" in text and "not known now" in text
    assert not box.become_primary.isEnabled()
    assert not box.sync_first.isVisible() and not box.force.isVisible()
    assert not pane.sync.sync_button.isEnabled()  # Sync Now is asked of beta: it could only fail
    backup.set_status(ConnectionStatus.ONLINE)  # it answers again: as before
    assert box.countdown.text() == "The primary is reachable." and box.become_primary.isEnabled()
    assert pane.sync.sync_button.isEnabled()


def test_an_unreachable_primary_offers_no_become_backup(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    pane, primary, _backup = make_pane(qtbot, tmp_path)
    pane.set_appliance(primary.id)
    assert pane.handover.isVisible() and pane.handover.become_backup.isEnabled()
    assert pane.break_button.isEnabled()
    primary.set_status(ConnectionStatus.OFFLINE, "Cannot connect to 127.0.0.1:1001.")
    assert not pane.handover.become_backup.isEnabled()
    assert not pane.break_button.isEnabled() and "other appliance" in pane.break_button.toolTip()
    primary.set_status(ConnectionStatus.ONLINE)
    assert pane.handover.become_backup.isEnabled() and pane.break_button.isEnabled()


def test_readiness_does_not_vouch_for_the_sync_of_an_unreachable_backup(qtbot: Any, aloop: Any,
                                                                        tmp_path: Path) -> None:
    pane, primary, backup = make_pane(qtbot, tmp_path)
    pane.set_appliance(primary.id)
    backup.set_status(ConnectionStatus.OFFLINE, "Cannot connect to 127.0.0.1:1002.")
    shown = [pane.readiness.item(i).text() for i in range(pane.readiness.count())]
    sync_line = next(t for t in shown if "Last sync recent and good" in t)
    assert "finished well" not in sync_line and "beta is offline: not known now" in sync_line, sync_line


def test_security_pane_says_keys_of_an_unreachable_appliance_are_as_last_read(qtbot: Any, aloop: Any,
                                                                             tmp_path: Path) -> None:
    from pa_console.console.views.security_pane import SecurityPane

    primary, backup = pair()
    pane = SecurityPane(fake_fleet(tmp_path, primary, backup))
    qtbot.addWidget(pane)
    pane.show()
    pane.set_appliance(primary.id)
    assert pane.verdict.text().startswith("✔ MATCH") and pane.apply_button.isEnabled()
    backup.set_status(ConnectionStatus.OFFLINE, "127.0.0.1:1002 did not answer in time.")
    assert pane.verdict.text() == "beta is offline: its key cannot be read now. When last read, the keys matched."
    assert not pane.apply_button.isEnabled()  # a new key set on one side only would cut the pair
    backup.set_status(ConnectionStatus.ONLINE)
    assert pane.verdict.text().startswith("✔ MATCH") and pane.apply_button.isEnabled()
