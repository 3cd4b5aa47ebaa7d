"""The in-app banner: the latest notice at the top of the window, dismissable."""

from __future__ import annotations

import shiboken6
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from pa_console.console.state.notifier import Notice, Urgency
from pa_console.console.views.widgets import button, set_role


class Banner(QWidget):
    """Shows the latest notice (and problems such as a missing keyring)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setAccessibleName("Notification")
        self.dismiss = button("&Dismiss", "Dismiss notification")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.dismiss)
        self.dismiss.clicked.connect(self.hide)
        self.shown: list[Notice] = []
        self.hide()

    def show_notice(self, notice: Notice) -> None:
        self.shown.append(notice)
        self.show_text(f"{notice.title}: {notice.body}", error=notice.urgency == Urgency.CRITICAL)

    def show_text(self, text: str, *, error: bool = True) -> None:
        self.label.setText(text)
        set_role(self.label, "banner-error" if error else "banner-warning")
        self.setVisible(True)


class BannerSink:
    """The NoticeSink face of the banner."""

    def __init__(self, banner: Banner) -> None:
        self.banner = banner

    def show(self, notice: Notice) -> None:
        if shiboken6.isValid(self.banner):  # the window may be gone while the notifier lives on
            self.banner.show_notice(notice)
