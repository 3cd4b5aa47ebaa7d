"""The diagram's link label is whole at the pane's usual width: it wraps in the gap between the boxes.

Found trying the console at its default size: "Primary lost · manual failover needed (auto..." (the reason cut off)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pa_console.console.views.failover_pane import FailoverPane
from pa_console.protocol.models import FailoverSettings
from tests.ui.fakes import fake_fleet
from tests.unit.console.factories import pair


def test_a_long_link_label_is_drawn_whole(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair(primary_reachable=False)
    backup.set_settings(FailoverSettings(auto_failover=False))
    pane = FailoverPane(fake_fleet(tmp_path, primary, backup))
    qtbot.addWidget(pane)
    pane.resize(700, 800)  # the Failover pane at the window's default size
    pane.show()
    pane.set_appliance(backup.id)
    qtbot.waitExposed(pane)
    diagram = pane.diagram
    assert diagram.picture is not None
    label = diagram.picture.link_label
    assert label == "Primary lost · manual failover needed (automatic failover is off)"
    diagram.grab()  # paints it
    assert getattr(diagram, "drawn_label", None) == label
