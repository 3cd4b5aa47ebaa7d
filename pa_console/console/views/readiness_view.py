"""The readiness check, item by item: ✔ fit, ✘ not fit, ? cannot tell."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from pa_console.console.state.readiness import Readiness
from pa_console.console.views.theme import status_icon

MARKS = {True: ("✔", "ok"), False: ("✘", "error"), None: ("?", "warning")}


class ReadinessView(QListWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Readiness check")
        self.setWordWrap(True)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def show_readiness(self, readiness: Readiness) -> None:
        self.clear()
        for item in readiness.items:
            mark, icon = MARKS[item.ok]
            row = QListWidgetItem(status_icon(icon), f"{mark} {item.title}: {item.detail}")
            row.setToolTip(item.detail)
            self.addItem(row)
        # Tall enough for every item (wrapped ones too): the whole list is read at a glance, without scrolling.
        rows = sum(self.sizeHintForRow(i) for i in range(self.count()))
        height = rows + 2 * self.frameWidth() + 4 if self.count() else 0
        self.setMinimumHeight(height)
        self.setMaximumHeight(height)


def readiness_text(readiness: Readiness) -> str:
    return "\n".join(f"{MARKS[item.ok][0]} {item.title}: {item.detail}" for item in readiness.items)
