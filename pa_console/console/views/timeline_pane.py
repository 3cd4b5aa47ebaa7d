"""The Timeline pane: both appliances' events merged, filtered by kind, appliance and text; export CSV/JSON."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pa_console.console.services.fleet import Fleet
from pa_console.console.state.formatting import local_time
from pa_console.console.state.timeline import CATEGORIES, TimelineModel
from pa_console.console.views.asyncslot import async_slot
from pa_console.console.views.widgets import Subscriptions, button, hint_label, line_edit

MAX_ROWS = 2000  # the newest; the export has them all


class TimelinePane(QWidget):
    def __init__(self, fleet: Fleet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fleet = fleet
        self.model: TimelineModel = fleet.timeline
        self.setAccessibleName("Timeline")
        self.checks: dict[str, QCheckBox] = {}
        filters = QHBoxLayout()
        for name in [*CATEGORIES, "other"]:
            check = QCheckBox(name.capitalize())
            check.setChecked(True)
            check.setAccessibleName(f"Show {name} events")
            check.toggled.connect(self._filter_changed)
            self.checks[name] = check
            filters.addWidget(check)
        self.appliance = QComboBox()
        self.appliance.setAccessibleName("Show events of")
        self.appliance.activated.connect(self._filter_changed)
        self.search = line_edit("Search events", "search")
        self.search.textChanged.connect(self._filter_changed)
        filters.addWidget(self.appliance)
        filters.addWidget(self.search, 1)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Time", "Appliance", "Event", "What happened"])
        self.table.setAccessibleName("Events")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.export_csv = button("Export &CSV…", "Export timeline as CSV")
        self.export_json = button("Export &JSON…", "Export timeline as JSON")
        self.status = hint_label("", "Export result")
        exports = QHBoxLayout()
        exports.addWidget(self.export_csv)
        exports.addWidget(self.export_json)
        exports.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(exports)
        self.export_csv.clicked.connect(lambda: self._ask_path("csv"))
        self.export_json.clicked.connect(lambda: self._ask_path("json"))
        # Events can arrive by the thousand (history at connect): redraw at most a few times a second.
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(200)
        self._redraw.timeout.connect(self.refresh_view)
        self._subs = Subscriptions(self)
        self._subs.add(self.model.changed, self._schedule)
        self._subs.add(fleet.changed, self._fleet_changed)
        self._fleet_changed(None)

    def _fleet_changed(self, _: None) -> None:
        current = self.appliance.currentData()
        self.appliance.clear()
        self.appliance.addItem("All appliances", None)
        for state in self._fleet.states.values():
            self.appliance.addItem(state.name, state.id)
        index = self.appliance.findData(current)
        self.appliance.setCurrentIndex(max(0, index))
        self._schedule(None)

    def _schedule(self, _: None) -> None:
        if not self._redraw.isActive():
            self._redraw.start()

    def _filter_changed(self, *_: object) -> None:
        chosen = self.appliance.currentData()
        self.model.set_filter(
            categories={name for name, check in self.checks.items() if check.isChecked()},
            appliances={str(chosen)} if chosen else None,
            text=self.search.text(),
        )

    def refresh_view(self) -> None:
        entries = self.model.visible()[-MAX_ROWS:]
        names = {s.id: s.name for s in self._fleet.states.values()}
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(entries))
        widest = [0, 0, 0]
        metrics = self.table.fontMetrics()
        for row, entry in enumerate(reversed(entries)):  # newest first
            values = [
                local_time(entry.ts),
                names.get(entry.appliance, entry.appliance),
                entry.event.type,
                entry.summary,
            ]
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
                if column < 3:
                    widest[column] = max(widest[column], metrics.horizontalAdvance(value))
        # Widths from the texts themselves, not resizeColumnsToContents(): under PySide6 6.11 that leaks a reference
        # to None for every cell it measures (8000 a redraw of 2000 rows; found by bench/console_soak.py).
        for column, width in enumerate(widest):
            self.table.setColumnWidth(column, max(width + 24, self.table.horizontalHeader().sectionSizeHint(column)))
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setUpdatesEnabled(True)

    def _ask_path(self, fmt: str) -> None:
        dialog = QFileDialog(self, f"Export timeline as {fmt.upper()}")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix(fmt)
        dialog.setNameFilter(f"{fmt.upper()} files (*.{fmt})")
        dialog.selectFile(f"pa-timeline.{fmt}")
        dialog.fileSelected.connect(lambda path: self.export_to(Path(path), fmt))
        dialog.open()

    @async_slot
    async def export_to(self, path: Path, fmt: str) -> None:
        text = self.model.to_csv() if fmt == "csv" else self.model.to_json()
        try:
            await asyncio.to_thread(path.write_text, text, encoding="utf-8")
        except OSError as exc:
            self.status.setText(f"Could not write {path}: {exc.strerror or exc}")
            return
        self.status.setText(f"Saved {len(self.model.visible())} events to {path}")
