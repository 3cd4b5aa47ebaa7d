"""The console must run for weeks: no binding may leak references to Python's None.

PySide6-Essentials 6.12.0 on CPython 3.11 lowers None's reference count on every wrapped call that returns nothing
(1000 QListWidget.addItem calls: -1997); after a few minutes of live updates the count reaches zero and CPython aborts
with "Fatal Python error: none_dealloc". On 3.12+ None is immortal, so the count never moves. pyproject.toml excludes
the broken bindings on the Pythons they break; these tests fail if a resolver ever picks them again.
"""

from __future__ import annotations

import gc
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QLabel, QListWidget

from pa_console.console.state.status import ConnectionStatus
from pa_console.console.views.main_window import MainWindow
from pa_console.protocol.models import Role, SyncStatus
from tests.ui.fakes import fake_fleet
from tests.ui.test_failover_pane import Confirm
from tests.unit.console.factories import health, pair

IMMORTAL_NONE = sys.version_info >= (3, 12)


def _none_refs_after(work: Any) -> int:
    gc.collect()
    before = sys.getrefcount(None)
    work()
    gc.collect()
    return sys.getrefcount(None) - before


def test_void_calls_keep_none_alive(qapp: QApplication) -> None:
    items, label = QListWidget(), QLabel()

    def calls() -> None:
        for i in range(1000):
            items.addItem(str(i))
            label.setText(str(i))
            label.setMaximumHeight(100 + i % 2)
        items.clear()

    # With the broken bindings this is about -3000; a sound one moves by a handful either way.
    assert _none_refs_after(calls) > -50


@pytest.mark.skipif(IMMORTAL_NONE, reason="None is immortal on Python 3.12+: its reference count never moves")
def test_console_windows_updated_for_hours_keep_none_alive(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    """Drive the real main window through the updates of a long day: health, status, selection, tabs."""
    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    window = MainWindow(fleet, confirm=Confirm())
    qtbot.addWidget(window)
    window.show()
    app = QApplication.instance()
    assert app is not None

    def cycle(i: int) -> None:
        reachable = i % 3 != 0
        backup.set_health(
            health(
                "beta",
                Role.BACKUP,
                primary_reachable=reachable,
                failover_in_s=None if reachable else 30 - i % 30,
                last_sync_at=datetime.now(UTC) - timedelta(seconds=i % 60),
                last_sync_status=SyncStatus.OK,
            )
        )
        primary.set_status(ConnectionStatus.ONLINE if reachable else ConnectionStatus.OFFLINE)
        window.appliances.select(backup.id if i % 2 else primary.id)
        window.tabs.setCurrentIndex(i % window.tabs.count())
        app.processEvents()

    for i in range(20):  # warm caches (fonts, styles, lazily built widgets) before counting
        cycle(i)

    def many() -> None:
        for i in range(400):
            cycle(i)

    # The broken bindings lose thousands of references here (every setText, setVisible, addItem...).
    assert _none_refs_after(many) > -100


def test_known_crashing_bindings_are_refused_in_a_sentence() -> None:
    from pa_console.console.bindings import broken_bindings_message

    message = broken_bindings_message((6, 12, 0), (3, 11))
    assert "crashes on Python 3.11" in message and "pip install 'PySide6-Essentials<6.12'" in message
    assert broken_bindings_message((6, 12, 0), (3, 12)) == ""
    assert broken_bindings_message((6, 11, 3), (3, 11)) == ""
