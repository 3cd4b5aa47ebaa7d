"""Sync Now, the live progress bar (phase, amount, rate, time left), and the last sync's outcome."""

from __future__ import annotations

import math

from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from pa_console.console.services.fleet import Fleet
from pa_console.console.state.appliance import ApplianceState
from pa_console.console.state.formatting import human_bytes, human_duration, human_run_time, local_time
from pa_console.console.state.status import ConnectionStatus
from pa_console.console.views.asyncslot import async_slot
from pa_console.console.views.widgets import OperationView, button, error_label, set_role
from pa_console.protocol.models import SyncProgress, SyncStatus


def describe_progress(progress: SyncProgress) -> str:
    parts = [progress.phase.replace("_", " ").capitalize()]
    if progress.bytes_total:
        parts.append(f"{human_bytes(progress.bytes_done)} of {human_bytes(progress.bytes_total)}")
    if progress.rows_total:
        parts.append(f"{progress.rows_done:,} of {progress.rows_total:,} rows")
    if progress.rate_bps:
        parts.append(f"{human_bytes(progress.rate_bps)}/s")
    if progress.eta_s is not None:
        # Rounded up, never "0 s left" while bytes remain (as the countdown rounds its seconds up).
        parts.append(f"{human_duration(max(1, math.ceil(progress.eta_s)))} left")
    return " · ".join(parts)


def progress_permille(progress: SyncProgress) -> int | None:
    if progress.bytes_total:
        return int(1000 * progress.bytes_done / progress.bytes_total)
    if progress.rows_total:
        return int(1000 * progress.rows_done / progress.rows_total)
    return None


class SyncBox(QGroupBox):
    def __init__(self, fleet: Fleet, parent: QWidget | None = None) -> None:
        super().__init__("Synchronisation", parent)
        self._fleet = fleet
        self._state: ApplianceState | None = None
        self.sync_button = button("&Sync Now", "Sync now")
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Sync progress")
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.progress_text = QLabel()
        self.progress_text.setAccessibleName("Sync progress details")
        self.last_sync = QLabel()
        self.last_sync.setAccessibleName("Last sync")
        self.last_status = QLabel()
        self.last_status.setAccessibleName("Last sync status")
        self.last_status.setWordWrap(True)
        self.error = error_label("Sync error")
        self.op = OperationView(self, self.error, None, self._render_button)
        self._watcher: ApplianceState | None = None
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.sync_button)
        form = QFormLayout()
        form.addRow("Last sync:", self.last_sync)
        form.addRow("Result:", self.last_status)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.progress_text)
        layout.addLayout(form)
        layout.addWidget(self.error)
        self.sync_button.clicked.connect(self.sync_now)

    def show_state(self, state: ApplianceState, watcher: ApplianceState) -> None:
        """`state` is the selected appliance; `watcher` the one whose sync is shown (backup if known)."""
        self._state = state
        self._watcher = watcher
        self.op.bind(self._fleet.commands(state.id).sync)
        health = watcher.health
        running = health is not None and health.last_sync_status == SyncStatus.RUNNING
        progress = watcher.progress
        if progress is not None:
            permille = progress_permille(progress)
            if permille is None:
                self.bar.setRange(0, 0)  # busy indicator
            else:
                self.bar.setRange(0, 1000)
                self.bar.setValue(permille)
            self.progress_text.setText(describe_progress(progress))
        elif running:
            self.bar.setRange(0, 0)
            self.progress_text.setText("Sync running…")
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(0)
            self.progress_text.setText("")
        self.progress_text.setVisible(bool(self.progress_text.text()))
        established = health is not None and health.relationship_established
        # Sync Now is asked of the selected appliance: not while the console cannot reach it (it could only fail).
        answers = state.status == ConnectionStatus.ONLINE
        self.sync_button.setEnabled(answers and established and not running and not self.op.busy)
        self.last_sync.setText(local_time(health.last_sync_at) if health else "unknown")
        report = watcher.last_report
        if health is None:
            self.last_status.setText("unknown")
        elif health.last_sync_status == SyncStatus.FAILED:
            reason = report.error if report is not None and report.error else "no reason given"
            self.last_status.setText(f"Failed: {reason}")
            set_role(self.last_status, "error")
        elif health.last_sync_status == SyncStatus.OK and report is not None:
            check = {True: "digests equal", False: "DIGESTS DIFFER", None: "not checked"}[report.digest_ok]
            self.last_status.setText(
                f"OK: {report.rows_moved:,} rows, {human_bytes(report.bytes_moved)} in "
                f"{human_run_time(report.duration_s)}; {check}"
            )
            set_role(self.last_status, "error" if report.digest_ok is False else "hint")
        else:
            self.last_status.setText(health.last_sync_status.value.capitalize())
            set_role(self.last_status, "hint")

    def _render_button(self) -> None:
        if self._state is not None and self._watcher is not None:
            self.show_state(self._state, self._watcher)

    @async_slot
    async def sync_now(self) -> None:
        state = self._state
        if state is not None:
            await self._fleet.commands(state.id).sync_now()
