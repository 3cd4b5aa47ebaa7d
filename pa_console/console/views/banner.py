"""The in-app banner: one line per current condition or message (state/banners.py), coloured by severity.

A line lasts as long as its condition: the board is read again on every state change and every second, so the
countdown in it is the same second as in the diagram and the takeover box (all read `countdown_left()`)."""

from __future__ import annotations

import hashlib

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from pa_console.console.state.banners import BannerBoard, BannerLine
from pa_console.console.state.notifier import Notice, Urgency
from pa_console.console.views.widgets import button, set_role

_ROLE = {Urgency.INFO: "banner-info", Urgency.WARNING: "banner-warning", Urgency.CRITICAL: "banner-error"}


class _Row(QWidget):
    def __init__(self, line: BannerLine, board: BannerBoard) -> None:
        super().__init__()
        self.line = line
        self.label = QLabel(line.text)
        self.label.setWordWrap(True)
        self.label.setAccessibleName("Notification")
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        set_role(self.label, _ROLE[line.urgency])
        self.dismiss: QPushButton = button("Dismiss", f"Dismiss: {line.text[:40]}")
        self.dismiss.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.dismiss)
        self.dismiss.clicked.connect(lambda: board.dismiss(line.key))


class Banner(QWidget):
    """Shows the board's lines; `shown` keeps the notices the notifier told (a record for tests and history)."""

    def __init__(self, board: BannerBoard | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.board = board or BannerBoard(list)
        self.rows: list[_Row] = []
        self.shown: list[Notice] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self.board.changed.connect(self._render)
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self.board.refresh)
        self.timer.start()
        self._render(None)

    @property
    def label(self) -> QLabel:
        """The first line's label (the most severe)."""
        return self.rows[0].label if self.rows else QLabel()

    def texts(self) -> list[str]:
        return [row.line.text for row in self.rows]

    def show_notice(self, notice: Notice) -> None:
        self.shown.append(notice)

    def show_text(self, text: str, *, error: bool = True, urgency: Urgency | None = None) -> None:
        """A message of the console's own (not tied to an appliance's state): stays until dismissed or re-posted."""
        key = "text/" + hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]
        self.board.post(key, text, urgency or (Urgency.CRITICAL if error else Urgency.WARNING))

    def _render(self, _: None) -> None:
        if not shiboken6.isValid(self):
            return
        lines = self.board.lines()
        if [row.line for row in self.rows] == lines:
            return
        for row in self.rows:
            self._layout.removeWidget(row)
            row.deleteLater()
        self.rows = [_Row(line, self.board) for line in lines]
        for row in self.rows:
            self._layout.addWidget(row)
        self.setVisible(bool(self.rows))


class BannerSink:
    """The NoticeSink face of the banner: records what was told (the banner itself shows current conditions)."""

    def __init__(self, banner: Banner) -> None:
        self.banner = banner

    def show(self, notice: Notice) -> None:
        if shiboken6.isValid(self.banner):  # the window may be gone while the notifier lives on
            self.banner.show_notice(notice)
