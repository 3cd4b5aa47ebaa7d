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
from tests.unit.console.factories import pair


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
