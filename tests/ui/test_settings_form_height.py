"""The settings form is as tall as its own fields: a primary's short form showed with a gap above and below, in the
height of the backup's longer form (a stacked widget sizes to its tallest page)."""

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

