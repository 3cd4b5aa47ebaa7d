"""Add an appliance: address, port and API token; then its certificate fingerprint to trust (as SSH does)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from pa_console.console.client.errors import AgentError
from pa_console.console.fingerprints import wrapped_fingerprint
from pa_console.console.services.fleet import Fleet
from pa_console.console.views.asyncslot import async_slot
from pa_console.console.views.widgets import (
    button,
    error_label,
    hint_label,
    host_problem,
    line_edit,
    monospace,
    no_wheel_edits,
    port_box,
    show_error,
)


class AddApplianceDialog(QDialog):
    """Step 1: address, port, token, "Fetch certificate". Step 2: the fingerprint and "Trust and add"."""

    def __init__(self, fleet: Fleet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fleet = fleet
        self._pem: str | None = None
        self.added_id: str | None = None
        self.setWindowTitle("Add appliance")
        self.setAccessibleName("Add appliance")

        self.host = line_edit("Appliance address", "appliance.example.com or 10.0.0.5")
        self.port = port_box("Agent port", 8443)
        self.token = line_edit("API token", "from `pa-agent info DATA_DIR --json`")
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.name = line_edit("Display name (optional)", "taken from the appliance if empty")
        self.host_error = error_label("Address problem")
        # Fields wide enough for what goes in them (an address, a 43-character token), placeholders uncut.
        chars = self.fontMetrics().horizontalAdvance("x") or 7
        for edit in (self.host, self.token, self.name):
            edit.setMinimumWidth(max(chars * 44, edit.fontMetrics().horizontalAdvance(edit.placeholderText()) + 24))
        form = QFormLayout()
        form.addRow("&Address:", self.host)
        form.addRow("", self.host_error)
        form.addRow("&Port:", self.port)
        form.addRow("API &token:", self.token)
        form.addRow("&Name:", self.name)
        self.fetch_button = button("&Fetch certificate", "Fetch certificate", "primary")

        self.trust_box = QGroupBox("Do you trust this certificate?")
        self.fingerprint = QLabel()
        self.fingerprint.setFont(monospace())
        # Never wrapped by Qt (the text has its own line breaks between pair groups): the fingerprint is the one
        # thing to compare, so it is shown whole, in a fixed-width font, and can be selected and copied.
        self.fingerprint.setWordWrap(False)
        self.fingerprint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                                 | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.fingerprint.setAccessibleName("Certificate SHA-256 fingerprint")
        trust_layout = QVBoxLayout(self.trust_box)
        trust_layout.addWidget(
            hint_label(
                "Compare this SHA-256 fingerprint with the one `pa-agent info` prints on the appliance. "
                "The console will accept only this certificate from now on.",
                "How to check the fingerprint",
            )
        )
        trust_layout.addWidget(self.fingerprint)
        self.trust_box.hide()

        self.error = error_label("Error")
        self.buttons = QDialogButtonBox()
        self.add_button = self.buttons.addButton("&Trust and add", QDialogButtonBox.ButtonRole.AcceptRole)
        self.add_button.setAccessibleName("Trust and add")
        self.add_button.setEnabled(False)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAccessibleName("Cancel")
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.fetch_button)
        layout.addWidget(self.trust_box)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

        self.host.textChanged.connect(self._changed)
        self.port.valueChanged.connect(self._changed)
        self.token.textChanged.connect(self._changed)
        self.fetch_button.clicked.connect(self.fetch_certificate)
        self.add_button.clicked.connect(self.trust_and_add)
        no_wheel_edits(self)
        self._changed()
        self._refit()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:  # something shown, hidden or re-worded: fit it whole
            self._refit()
        return super().event(event)

    def _refit(self) -> None:
        """The minimum size shows everything: wrapped sentences take their lines at the narrowest width too
        (a layout's minimum size alone would squeeze them and cut the fields' text)."""
        layout = self.layout()
        if layout is None:
            return
        width = max(layout.minimumSize().width(), self.fontMetrics().horizontalAdvance("x") * 64)
        height = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else layout.minimumSize().height()
        height = max(height, layout.minimumSize().height())
        self.setMinimumSize(width, height)
        if self.height() < height or self.width() < width:
            self.resize(max(self.width(), width), max(self.height(), height))

    def _changed(self, *_: object) -> None:
        problem = host_problem(self.host.text()) if self.host.text() else None
        show_error(self.host_error, problem)
        self._pem = None
        self.trust_box.hide()
        self.add_button.setEnabled(False)
        self.fetch_button.setEnabled(bool(self.host.text()) and problem is None and bool(self.token.text()))

    @async_slot
    async def fetch_certificate(self) -> None:
        self.fetch_button.setEnabled(False)
        show_error(self.error, None)
        try:
            pem, fingerprint = await self._fleet.probe_certificate(self.host.text().strip(), self.port.value())
        except AgentError as exc:
            show_error(self.error, exc.message)
            return
        finally:
            self.fetch_button.setEnabled(True)
        self._pem = pem
        self.fingerprint.setText(wrapped_fingerprint(fingerprint))
        self.fingerprint.setMinimumSize(self.fingerprint.sizeHint())
        self.fingerprint.setAccessibleDescription(fingerprint)
        self.trust_box.show()
        self.add_button.setEnabled(True)
        self.add_button.setFocus()

    @async_slot
    async def trust_and_add(self) -> None:
        if self._pem is None:
            return
        self.add_button.setEnabled(False)
        show_error(self.error, None)
        try:
            state = await self._fleet.add_appliance(
                self.host.text().strip(),
                self.port.value(),
                self.token.text(),
                self._pem,
                self.name.text().strip(),
            )
        except AgentError as exc:
            show_error(self.error, exc.message)
            self.add_button.setEnabled(True)
            return
        except Exception as exc:  # e.g. no keyring: say so rather than lose the token silently
            show_error(self.error, str(exc))
            self.add_button.setEnabled(True)
            return
        self.added_id = state.id
        self.accept()
