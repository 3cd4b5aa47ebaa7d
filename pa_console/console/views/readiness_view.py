"""The readiness check, item by item: ✔ fit, ✘ not fit, ? cannot tell."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from pa_console.console.state.readiness import Readiness
from pa_console.console.views.theme import status_icon

MARKS = {True: ("✔", "ok"), False: ("✘", "error"), None: ("?", "warning")}


class ReadinessView(QListWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Readiness check")
        self.setWordWrap(True)
        # Never scrolled: the list is as tall as its items wrapped to its width, at every width (fit on resize).
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)

    def show_readiness(self, readiness: Readiness) -> None:
        self.clear()
        for item in readiness.items:
            mark, icon = MARKS[item.ok]
            row = QListWidgetItem(status_icon(icon), f"{mark} {item.title}: {item.detail}")
            row.setToolTip(item.detail)
            self.addItem(row)
        self._fit_height()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fit_height()  # narrower: items wrap onto more lines, and none may be cut off

    def _fit_height(self) -> None:
        """Tall enough for every item as wrapped at the current width: read at a glance, never cut off."""
        if not self.count():
            height = 0
        else:
            self.doItemsLayout()
            bottom = max(self.visualItemRect(self.item(i)).bottom() for i in range(self.count()))
            height = bottom + self.verticalOffset() + 1 + 2 * self.frameWidth() + 4
        if height != self.maximumHeight() or height != self.minimumHeight():
            self.setMinimumHeight(height)
            self.setMaximumHeight(height)


def readiness_text(readiness: Readiness) -> str:
    return "\n".join(f"{MARKS[item.ok][0]} {item.title}: {item.detail}" for item in readiness.items)
