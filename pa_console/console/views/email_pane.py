"""The Email pane: SMTP settings (password write-only), Send test email with the server's answer."""

from __future__ import annotations

from pydantic import ValidationError
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from pa_console.console.services.fleet import Fleet
from pa_console.console.state.appliance import ApplianceState
from pa_console.console.views.asyncslot import async_slot
from pa_console.console.views.widgets import (
    Subscriptions,
    button,
    error_label,
    hint_label,
    line_edit,
    port_box,
    set_role,
    show_error,
)
from pa_console.protocol.models import EmailConfig, EmailConfigUpdate, EmailSecurity, Role

BACKUP_NOTE = ("This appliance is a backup: it receives the email settings of its primary with the next sync. "
               "Edit them on the primary.")


class EmailPane(QWidget):
    def __init__(self, fleet: Fleet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fleet = fleet
        self._state: ApplianceState | None = None
        self._loaded: EmailConfig | None = None
        self._ca_pem = ""
        self._subs = Subscriptions(self)
        self._busy = False
        self.setAccessibleName("Email")
        self.host = line_edit("SMTP server", "smtp.example.com")
        self.port = port_box("SMTP port", 25)
        self.security = QComboBox()
        self.security.setAccessibleName("Connection security")
        for value in EmailSecurity:
            self.security.addItem(value.value, value)
        self.username = line_edit("SMTP user name")
        self.password = line_edit("SMTP password (write-only)")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_state = QLabel()
        self.password_state.setAccessibleName("Password state")
        self.sender_edit = line_edit("Sender address", "pa@example.com")
        self.recipients = line_edit("Recipients", "admin@example.com, oncall@example.com")
        self.ca_file = line_edit("CA file on the appliance", "/etc/pa-agent/smtp-ca.pem (optional)")
        self.verification = QLabel()
        self.verification.setAccessibleName("Certificate verification")
        self.verification.setWordWrap(True)
        self.error = error_label("Email settings error")
        self.save_button = button("Sa&ve email settings", "Save email settings", "primary")
        self.test_button = button("Send &test email", "Send test email")
        self.answer = QLabel()
        self.answer.setAccessibleName("SMTP server answer")
        self.answer.setWordWrap(True)
        self.answer.setVisible(False)
        self.backup_note = hint_label(BACKUP_NOTE, "Backup note")
        form = QFormLayout()
        form.addRow("SMTP &server:", self.host)
        form.addRow("&Port:", self.port)
        form.addRow("Securit&y:", self.security)
        form.addRow("&User:", self.username)
        form.addRow("Pass&word:", self.password)
        form.addRow("", self.password_state)
        form.addRow("Se&nder:", self.sender_edit)
        form.addRow("&Recipients:", self.recipients)
        form.addRow("&CA file:", self.ca_file)
        form.addRow("Verification:", self.verification)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(
            hint_label(
                "The appliance emails these recipients when the primary is lost, during the countdown, "
                "at takeover and when no backup pulls. The backup receives them with the next sync.",
                "About email",
            )
        )
        layout.addWidget(self.backup_note)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        layout.addWidget(self.answer)
        layout.addStretch(1)
        self.save_button.clicked.connect(self.save)
        self.test_button.clicked.connect(self.send_test)
        # The test mail goes out with what is on screen, saved first: the button says so while the form differs.
        for edit in (self.host, self.username, self.password, self.sender_edit, self.recipients, self.ca_file):
            edit.textChanged.connect(self._name_test_button)
        self.port.valueChanged.connect(self._name_test_button)
        self.security.currentIndexChanged.connect(self._name_test_button)
        self.set_appliance(None)

    def _name_test_button(self, *_: object) -> None:
        if self._dirty():
            self.test_button.setText("Save and send &test email")
            self.test_button.setToolTip("The settings on screen are saved on the appliance first, then tried.")
        else:
            self.test_button.setText("Send &test email")
            self.test_button.setToolTip("")

    def set_appliance(self, appliance_id: str | None) -> None:
        self._subs.clear()
        self._state = self._fleet.states.get(appliance_id) if appliance_id else None
        self._loaded = None
        self.answer.setVisible(False)
        show_error(self.error, None)
        if self._state is not None:
            self._subs.add(self._state.changed, self._on_changed)
        self.refresh_view()

    def _on_changed(self, what: str) -> None:
        if what in ("email", "health"):
            self.refresh_view()

    def refresh_view(self) -> None:
        state = self._state
        is_backup = state is not None and state.role == Role.BACKUP
        if is_backup:
            self.backup_note.setText(BACKUP_NOTE)
        elif state is not None and state.email is None:  # never a greyed-out form without a word
            self.backup_note.setText(f"Reading the email settings of {state.name}…")
        self.backup_note.setVisible(is_backup or (state is not None and state.email is None))
        editable = state is not None and state.email is not None and not is_backup
        for w in (
            self.host,
            self.port,
            self.security,
            self.username,
            self.password,
            self.sender_edit,
            self.recipients,
            self.ca_file,
        ):
            w.setEnabled(editable)
        self.save_button.setEnabled(editable and not self._busy)
        self.test_button.setEnabled(editable and not self._busy)
        if state is not None and state.email is not None and state.email != self._loaded:
            self._load(state.email)

    def _load(self, config: EmailConfig) -> None:
        self._loaded = config
        self.host.setText(config.host)
        self.port.setValue(config.port)
        self.security.setCurrentIndex(self.security.findData(config.security))
        self.username.setText(config.username)
        self.password.clear()
        self.password.setPlaceholderText("(unchanged)" if config.password_set else "(none)")
        self.password_state.setText(
            "A password is stored; type here only to replace it." if config.password_set else "No password stored."
        )
        self.sender_edit.setText(config.sender)
        self.recipients.setText(", ".join(config.recipients))
        # A CA given as PEM text (through the API) is kept as it is; a line edit would mangle its lines.
        self._ca_pem = config.ca_file if config.ca_file.startswith("-----BEGIN") else ""
        self.ca_file.setText("" if self._ca_pem else config.ca_file)
        self.ca_file.setPlaceholderText("(a CA certificate is set; type a path to replace it)" if self._ca_pem
                                        else "/etc/pa-agent/smtp-ca.pem (optional)")
        text = config.verification
        self.verification.setText(text[:1].upper() + text[1:] + "." if text else "")
        self._name_test_button()

    def update_body(self) -> EmailConfigUpdate:
        """Raises ValidationError with what is wrong (the same rules as the agent)."""
        return EmailConfigUpdate(
            host=self.host.text(),
            port=self.port.value(),
            security=EmailSecurity(self.security.currentData()),
            username=self.username.text(),
            password=self.password.text() or None,
            sender=self.sender_edit.text(),
            recipients=[r for r in self.recipients.text().replace(";", ",").split(",") if r.strip()],
            ca_file=self.ca_file.text() or self._ca_pem,
        )

    @async_slot
    async def save(self) -> None:
        await self._save()

    async def _save(self) -> bool:
        state = self._state
        if state is None or self._busy:
            return False
        show_error(self.error, None)
        try:
            body = self.update_body()
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            show_error(self.error, f"{where}: {first['msg'].removeprefix('Value error, ')}")
            return False
        self._busy = True
        self.refresh_view()
        commands = self._fleet.commands(state.id)
        try:
            saved = await commands.save_email(body)
        finally:
            self._busy = False
            self.refresh_view()
        if saved is None:
            show_error(self.error, commands.email.error)
            return False
        self.password.clear()
        return True

    @async_slot
    async def send_test(self) -> None:
        state = self._state
        if state is None or self._busy:
            return
        # The previous answer was about the previous settings: never leave it up while these are saved and tried.
        self.answer.setText("Sending…")
        set_role(self.answer, "hint")
        self.answer.setVisible(True)
        # Test what is on screen: save first when the form differs from what the appliance has.
        if self._dirty() and not await self._save():
            self.answer.setVisible(False)
            return
        self._busy = True
        self.refresh_view()
        commands = self._fleet.commands(state.id)
        try:
            result = await commands.send_test_email()
        finally:
            self._busy = False
            self.refresh_view()
        if result is None:
            self.answer.setText(commands.email.error or "The test mail could not be sent.")
            set_role(self.answer, "error")
            return
        if result.ok:
            code = f" ({result.code})" if result.code is not None else ""
            self.answer.setText(f"Sent. The SMTP server answered{code}: {result.message}")
        else:
            # A failure is the agent's own sentence: often no SMTP server answered at all (name unknown, nothing
            # listening), so "the server answered" would not be true.
            self.answer.setText(f"Not sent. {result.message}")
        set_role(self.answer, "hint" if result.ok else "error")

    def _dirty(self) -> bool:
        if self._loaded is None:
            return False
        try:
            body = self.update_body()
        except ValidationError:
            return True
        loaded = self._loaded
        return body.password is not None or (
            body.host,
            body.port,
            body.security,
            body.username,
            body.sender,
            body.recipients,
            body.ca_file,
        ) != (loaded.host, loaded.port, loaded.security, loaded.username, loaded.sender, loaded.recipients,
              loaded.ca_file)
