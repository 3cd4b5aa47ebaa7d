"""The Failover pane reads top-down and its settings are an explicit form (issue 15, point 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QWidget

from pa_console.protocol.models import FailoverSettings
from tests.ui.fakes import client, fake_fleet
from tests.ui.test_failover_pane import make_pane
from tests.unit.console.factories import appliance, pair


def _wheel(widget: QWidget, steps: int = -3) -> None:
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, widget.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def _top(pane: Any, widget: QWidget) -> int:
    return int(widget.mapTo(pane.widget(), QPoint(0, 0)).y())


def test_settings_form_marks_changes_applies_reverts_and_keeps_them_across_appliances(
    qtbot: Any, aloop: Any, tmp_path: Path
) -> None:
    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    pane = make_pane(qtbot, fleet)
    pane.set_appliance(backup.id)
    form = pane.settings
    # Status first, then the actions, then the settings.
    assert _top(pane, pane.status_title) < _top(pane, pane.diagram) < _top(pane, pane.readiness_box)
    assert _top(pane, pane.readiness_box) < _top(pane, pane.actions_title) < _top(pane, pane.break_box)
    assert _top(pane, pane.break_box) < _top(pane, pane.settings_title) < _top(pane, pane.settings_stack)
    # Only what applies to a backup; the shared address and the DNS/NAT swing folded while unused.
    assert form.primary_timeout.isVisible() and form.auto_failover.isVisible()
    assert not form.no_pull_alert.isVisible()
    assert not form.address.isVisible() and not form.methods.isVisible()
    assert not form.changed_marker.isVisible() and not form.save_button.isEnabled()

    # The wheel over a field without the focus changes nothing (the pane scrolls instead).
    assert form.primary_timeout.value() == 300
    _wheel(form.primary_timeout)
    assert form.primary_timeout.value() == 300 and not form.is_dirty()
    form.primary_timeout.setFocus()
    qtbot.waitUntil(form.primary_timeout.hasFocus)
    _wheel(form.primary_timeout)
    assert form.primary_timeout.value() != 300  # with the focus, the wheel is the user's choice
    form.revert_button.click()
    assert form.primary_timeout.value() == 300 and not form.changed_marker.isVisible()

    # An edit marks the form; switching appliance and back keeps it.
    form.primary_timeout.setValue(120)
    assert form.changed_marker.isVisible() and "changed" in form.title()
    assert form.save_button.isEnabled() and form.revert_button.isEnabled()
    pane.set_appliance(primary.id)
    assert pane.settings is not form and not pane.settings.is_dirty()
    assert pane.settings.no_pull_alert.isVisible() and not pane.settings.primary_timeout.isVisible()
    assert pane.unapplied_settings() == ["beta"]
    pane.set_appliance(backup.id)
    assert pane.settings is form and form.primary_timeout.value() == 120 and form.changed_marker.isVisible()

    # A change on the appliance meanwhile does not overwrite the edit.
    backup.set_settings(FailoverSettings(pull_interval_s=60))
    assert form.primary_timeout.value() == 120 and form.newer_on_appliance.isVisible()

    # Apply sends only what changed and the fields of the role; the answer is the new baseline.
    api = client(fleet, backup)
    api.answers["update_failover_settings"] = FailoverSettings(pull_interval_s=60, primary_timeout_s=120)
    form.save_button.click()
    qtbot.waitUntil(lambda: len(api.called("update_failover_settings")) == 1)
    (body,) = api.called("update_failover_settings")[0]
    assert body.model_dump(exclude_unset=True) == {"primary_timeout_s": 120}
    qtbot.waitUntil(lambda: not form.changed_marker.isVisible())
    assert form.save_result.text() == "Applied." and not form.save_button.isEnabled()
    assert form.pull_interval.value() == 60


def test_establish_offers_possible_backups_follows_typed_address_and_asks_about_automatic_failover(
    qtbot: Any, aloop: Any, tmp_path: Path
) -> None:
    lone, other = appliance("alpha", 1001), appliance("gamma", 1003)
    taken_primary, taken_backup = pair()  # already a pair: neither can be alpha's backup
    lone.set_key_fingerprint("aa" * 32)
    fleet = fake_fleet(tmp_path, lone, other, taken_primary, taken_backup)
    pane = make_pane(qtbot, fleet)
    pane.set_appliance(lone.id)
    form = pane.establish
    assert [form.pick.itemText(i) for i in range(form.pick.count())] == [
        "(enter the details by hand)", "gamma (127.0.0.1:1003)"]
    # Typed by hand, the address is recognised: the picker follows, the keys are read and compared.
    qtbot.keyClicks(form.backup.host, "127.0.0.1")
    form.backup.port.setValue(1003)
    assert form.pick.currentText() == "gamma (127.0.0.1:1003)"
    assert "Reading the Inter-Appliance key of gamma" in form.key_check.text()
    assert not form.establish_button.isEnabled() or form.key_status() is None
    other.set_key_fingerprint("AA" * 32)
    form.revalidate()
    assert "match" in form.key_check.text() and form.establish_button.isEnabled()
    # Whether the backup takes over by itself is asked, and set on the backup after establishing.
    assert form.auto_failover.isEnabled() and not form.auto_failover.isChecked()
    form.auto_failover.setChecked(True)
    client(fleet, other).answers["update_failover_settings"] = FailoverSettings(auto_failover=True)
    form.establish_button.click()
    qtbot.waitUntil(lambda: len(client(fleet, other).called("update_failover_settings")) == 1)
    (body,) = client(fleet, other).called("update_failover_settings")[0]
    assert body.model_dump(exclude_unset=True) == {"auto_failover": True}
    assert client(fleet, lone).called("establish")
    # Another address: back to "by hand", and the automatic-failover choice cannot be set from here.
    form.backup.port.setValue(1009)
    assert form.pick.currentIndex() == 0 and not form.auto_failover.isEnabled()
