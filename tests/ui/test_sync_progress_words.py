"""Sync progress and results in words that are true: never "0 s left" while bytes remain, nor "in 0 s"."""

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


def test_a_sync_under_half_a_second_did_not_take_zero_seconds(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from pa_console.protocol.events import SyncFinished
    from tests.unit.console.factories import event

    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    pane = FailoverPane(fleet)
    qtbot.addWidget(pane)
    pane.show()
    pane.set_appliance(primary.id)
    finished = event(SyncFinished(started_at=datetime.now(UTC), rows_moved=100, bytes_moved=100 * 2**20,
                                  duration_s=0.4, digest_ok=True))
    backup.apply_event(finished)
    fleet.timeline.add(backup.id, [finished])
    assert "100.0 MiB in under 1 s; digests equal" in pane.sync.last_status.text(), pane.sync.last_status.text()
    assert fleet.timeline.all_entries()[-1].summary == "Sync finished: 100 rows, 100.0 MiB in under 1 s"
