"""The settings form: as tall as its own fields (a stacked widget sized a primary's short form to a backup's
longer one: gaps above and below), and never "Applied." beside "Changed, not applied yet"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pa_console.console.views.failover_pane import FailoverPane
from tests.ui.fakes import fake_fleet
from tests.unit.console.factories import pair


def test_the_primary_form_is_not_stretched_to_the_backup_form(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    pane = FailoverPane(fake_fleet(tmp_path, primary, backup))
    qtbot.addWidget(pane)
    pane.resize(700, 900)
    pane.show()
    pane.set_appliance(backup.id)  # its form (more rows) now exists in the stack
    qtbot.wait(50)
    pane.set_appliance(primary.id)
    qtbot.wait(50)
    form = pane.settings
    assert form is not pane._forms[backup.id]
    wanted = form.sizeHint().height()
    assert pane.settings_stack.height() <= wanted + 4, (pane.settings_stack.height(), wanted)



def test_applied_is_not_said_beside_a_new_unapplied_change(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    from pa_console.protocol.models import FailoverSettings
    from tests.ui.fakes import client

    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    pane = FailoverPane(fleet)
    qtbot.addWidget(pane)
    pane.show()
    pane.set_appliance(backup.id)
    form = pane.settings
    client(fleet, backup).answers["update_failover_settings"] = FailoverSettings(primary_timeout_s=120)
    form.primary_timeout.setValue(120)
    form.save_button.click()
    qtbot.waitUntil(lambda: form.save_result.text() == "Applied.")
    form.primary_timeout.setValue(90)  # a new edit
    assert form.changed_marker.isVisible() and form.save_result.text() == ""
