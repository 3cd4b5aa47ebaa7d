"""The appliance list shows a pair's state whole, wrapped onto more lines, never cut to "Primary ..".

Found trying the console at its default size: the pair row read "Primary .." during a countdown and "applianc..."
for "appliance-b is offline"; the overview's most important words were the ones cut."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QStyleOptionViewItem

from pa_console.console.views.appliance_list import ApplianceListView
from pa_console.protocol.models import FailoverSettings
from tests.ui.fakes import fake_fleet
from tests.unit.console.factories import pair


def test_a_long_pair_state_wraps_instead_of_being_cut(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair(primary_reachable=False)
    backup.set_settings(FailoverSettings(auto_failover=False))
    view = ApplianceListView(fake_fleet(tmp_path, primary, backup))
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    pair_row = view.topLevelItem(0)
    label = pair_row.text(2)
    assert label == "Primary lost · manual failover needed (automatic failover is off)"
    # The pair's row spans the list and shows its title over its state, whole.
    assert pair_row.isFirstColumnSpanned()
    index = view.indexFromItem(pair_row, 0)
    option = QStyleOptionViewItem()
    view.itemDelegateForColumn(0).initStyleOption(option, index)
    assert option.text == f"{pair_row.text(0)}\u2028{label}"
    # As tall as that text wrapped at the list's width: no line cut off.
    qtbot.waitUntil(lambda: view.visualItemRect(pair_row).height() >= 2 * view.fontMetrics().lineSpacing())
    needed = view.fontMetrics().boundingRect(QRect(0, 0, view.visualItemRect(pair_row).width() - 40, 10_000),
                                             int(Qt.TextFlag.TextWordWrap), option.text).height()
    assert view.visualItemRect(pair_row).height() >= needed
    # Appliance rows keep one line each.
    assert view.visualItemRect(pair_row.child(0)).height() < 2 * view.fontMetrics().lineSpacing()
