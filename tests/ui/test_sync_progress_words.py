"""Sync progress in words that are true: never "0 s left" while bytes remain (seen during Sync Now)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pa_console.console.views.failover_pane import FailoverPane
from tests.ui.fakes import fake_fleet
from tests.unit.console.factories import pair


def test_sync_progress_never_says_zero_seconds_left_while_bytes_remain(qtbot: Any, aloop: Any,
                                                                      tmp_path: Path) -> None:
    from pa_console.protocol.events import SyncStarted
    from pa_console.protocol.models import SyncProgress
    from tests.unit.console.factories import event

    primary, backup = pair()
    pane = FailoverPane(fake_fleet(tmp_path, primary, backup))
    qtbot.addWidget(pane)
    pane.show()
    pane.set_appliance(primary.id)
    backup.apply_event(event(SyncStarted()))
    backup.set_progress(SyncProgress(phase="recordings", bytes_done=44 * 2**20, bytes_total=95 * 2**20,
                                     rate_bps=165 * 2**20, eta_s=0.3))
    assert pane.sync.progress_text.text().endswith("· 1 s left"), pane.sync.progress_text.text()
