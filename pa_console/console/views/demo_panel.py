"""The demo's own controls: stop/start each appliance, who serves the shared address, the mails received."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from pa_console.console.views.asyncslot import async_slot
from pa_console.demo.controller import DemoController


class DemoPanel(QDockWidget):
    def __init__(self, controller: DemoController, parent: QWidget | None = None) -> None:
        super().__init__("Demo lab", parent)
        self.setObjectName("demo-panel")
        self.controller = controller
        body = QWidget()
        layout = QVBoxLayout(body)
        intro = QLabel(
            "Two real agents run on this machine. Stop the primary to watch the backup notice, count "
            "down, mail you and take over the shared address."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.buttons: dict[str, tuple[QPushButton, QPushButton]] = {}
        for appliance in controller.appliances:
            row = QHBoxLayout()
            stop = QPushButton(f"Stop {appliance.name}")
            stop.setAccessibleName(f"Stop {appliance.name} (as a power cut would)")
            stop.clicked.connect(lambda _=False, a=appliance: self._stop(a))
            start = QPushButton(f"Start {appliance.name}")
            start.setAccessibleName(f"Start {appliance.name} again")
            start.clicked.connect(lambda _=False, a=appliance: self._start(a))
            row.addWidget(stop)
            row.addWidget(start)
            layout.addLayout(row)
            self.buttons[appliance.name] = (stop, start)
        self.site = QLabel()
        self.site.setAccessibleName("Who serves the shared address")
        self.site.setWordWrap(True)
        layout.addWidget(self.site)
        layout.addWidget(QLabel("Mail received by the local SMTP server:"))
        self.mail_list = QListWidget()
        self.mail_list.setAccessibleName("Mails received")
        # A subject longer than the panel is elided (whole in its tooltip and below when picked): no sideways
        # scroll bar under a list of one-line subjects.
        self.mail_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.mail_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.mail_list.currentRowChanged.connect(self._show_mail)
        layout.addWidget(self.mail_list, 1)
        self.mail_body = QPlainTextEdit()
        self.mail_body.setReadOnly(True)
        self.mail_body.setAccessibleName("Selected mail")
        layout.addWidget(self.mail_body, 1)
        self.setWidget(body)
        controller.listeners.append(self._changed)
        self._changed("appliances")
        self._changed("site")

    def _changed(self, what: str) -> None:
        if what == "mail":
            mails = self.controller.mails
            for mail in mails[self.mail_list.count() :]:
                item = QListWidgetItem(f"{mail.received_at:%H:%M:%S}  {mail.subject}")
                item.setToolTip(mail.subject)
                self.mail_list.addItem(item)
        elif what == "site":
            holder = self.controller.site_holder or "nobody (no appliance answers)"
            self.site.setText(f"Shared address {self.controller.shared_site} is served by: {holder}")
        else:
            for appliance in self.controller.appliances:
                stop, start = self.buttons[appliance.name]
                stop.setEnabled(appliance.running and not self.controller.busy)
                start.setEnabled(not appliance.running and not self.controller.busy)

    def _show_mail(self, row: int) -> None:
        mails = self.controller.mails
        if 0 <= row < len(mails):
            mail = mails[row]
            self.mail_body.setPlainText(
                f"From: {mail.sender}\nTo: {', '.join(mail.recipients)}\nSubject: {mail.subject}\n\n{mail.body}"
            )

    @async_slot
    async def _stop(self, appliance: object) -> None:
        from pa_console.demo.lab import DemoAppliance

        assert isinstance(appliance, DemoAppliance)
        await self.controller.stop_appliance(appliance)

    @async_slot
    async def _start(self, appliance: object) -> None:
        from pa_console.demo.lab import DemoAppliance

        assert isinstance(appliance, DemoAppliance)
        await self.controller.start_appliance(appliance)
