"""DNS swing and NAT swing in the failover settings (issue #9): their fields, validated as typed, and Check."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from pa_console.console.services.fleet import Fleet
from pa_console.console.services.method_checks import refresh_method_checks
from pa_console.console.state.appliance import ApplianceState
from pa_console.console.state.takeover_methods import (
    TSIG_ALGORITHMS,
    DnsFields,
    FieldErrors,
    NatFields,
    check_line,
    dns_swing_from,
    method_changes,
    nat_swing_from,
)
from pa_console.console.views.asyncslot import async_slot
from pa_console.console.views.readiness_view import MARKS
from pa_console.console.views.theme import status_icon
from pa_console.console.views.widgets import (
    button,
    error_label,
    hint_label,
    line_edit,
    monospace,
    port_box,
    set_invalid,
    show_error,
)
from pa_console.protocol.models import DnsSwingUpdate, FailoverSettings, NatSwing, TakeoverMethodCheck


def _add_field(form: QFormLayout, label: str, widget: QWidget, error: QLabel) -> None:
    form.addRow(label, widget)
    form.addRow("", error)


class TakeoverMethodsForm(QWidget):
    """Embedded in the failover settings form; `edited` tells it to validate again."""

    edited = Signal()

    def __init__(self, fleet: Fleet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fleet = fleet
        self._state: ApplianceState | None = None
        self._secret_stored = False
        self._checking = False
        self._shown: list[TakeoverMethodCheck] | None = None
        # -- DNS swing --------
        self.dns_enabled = QCheckBox("Use a D&NS swing (point the site's DNS record at this appliance)")
        self.dns_enabled.setAccessibleName("Use a DNS swing")
        self.dns_server = line_edit("DNS server", "ns1.example.com")
        self.dns_port: QSpinBox = port_box("DNS server port", 53)
        self.dns_zone = line_edit("DNS zone", "example.com")
        self.dns_record = line_edit("DNS record name", "pa (in the zone), pa.example.com. or @")
        self.dns_ttl = QSpinBox()
        self.dns_ttl.setRange(1, 86_400)
        self.dns_ttl.setValue(60)
        self.dns_ttl.setSuffix(" s")
        self.dns_ttl.setAccessibleName("DNS record TTL")
        self.dns_key_name = line_edit("TSIG key name", "pa-swing")
        self.dns_algorithm = QComboBox()
        self.dns_algorithm.addItems(list(TSIG_ALGORITHMS))
        self.dns_algorithm.setAccessibleName("TSIG algorithm")
        self.dns_secret = line_edit("TSIG secret", "base64, as tsig-keygen prints it")
        self.dns_secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.dns_secret_hint = hint_label("", "About the TSIG secret")
        self.dns_address = line_edit("Address to publish for this appliance", "198.51.100.20")
        self.dns_timeout = 5.0
        self.dns_errors = {
            name: error_label(f"DNS swing {title} error")
            for name, title in (
                ("server", "server"), ("port", "port"), ("zone", "zone"), ("record", "record"), ("ttl", "TTL"),
                ("tsig_key_name", "key name"), ("tsig_algorithm", "algorithm"), ("tsig_secret", "secret"),
                ("address", "address"), ("", "general"),
            )
        }
        self.dns_box = QGroupBox("DNS swing")
        dns_form = QFormLayout()
        _add_field(dns_form, "DNS server:", self.dns_server, self.dns_errors["server"])
        _add_field(dns_form, "Port:", self.dns_port, self.dns_errors["port"])
        _add_field(dns_form, "&Zone:", self.dns_zone, self.dns_errors["zone"])
        _add_field(dns_form, "Rec&ord name:", self.dns_record, self.dns_errors["record"])
        _add_field(dns_form, "TT&L:", self.dns_ttl, self.dns_errors["ttl"])
        _add_field(dns_form, "TSIG key name:", self.dns_key_name, self.dns_errors["tsig_key_name"])
        _add_field(dns_form, "Algorithm:", self.dns_algorithm, self.dns_errors["tsig_algorithm"])
        dns_form.addRow("TSI&G secret:", self.dns_secret)
        dns_form.addRow("", self.dns_secret_hint)
        dns_form.addRow("", self.dns_errors["tsig_secret"])
        _add_field(dns_form, "Address to p&ublish:", self.dns_address, self.dns_errors["address"])
        dns_layout = QVBoxLayout(self.dns_box)
        dns_layout.addLayout(dns_form)
        dns_layout.addWidget(self.dns_errors[""])
        self._dns_inputs: tuple[QWidget, ...] = (
            self.dns_server, self.dns_port, self.dns_zone, self.dns_record, self.dns_ttl, self.dns_key_name,
            self.dns_algorithm, self.dns_secret, self.dns_address,
        )
        # -- NAT swing --------
        self.nat_enabled = QCheckBox("Use a NAT s&wing (run a command that points the firewall at this appliance)")
        self.nat_enabled.setAccessibleName("Use a NAT swing")
        self.nat_command = QPlainTextEdit()
        self.nat_command.setAccessibleName("NAT swing command, one argument per line")
        self.nat_command.setPlaceholderText("/usr/local/bin/nat-swing\n--rule\npa-https")
        self.nat_command.setTabChangesFocus(True)  # Tab moves on, as in every other field
        self.nat_command.setFont(monospace())
        lines = self.nat_command.fontMetrics().lineSpacing()
        self.nat_command.setMaximumHeight(lines * 6)
        self.nat_address = line_edit("Address the firewall forwards to", "10.20.0.5")
        self.nat_timeout = QDoubleSpinBox()
        self.nat_timeout.setRange(1, 600)
        self.nat_timeout.setDecimals(0)
        self.nat_timeout.setValue(30)
        self.nat_timeout.setSuffix(" s")
        self.nat_timeout.setAccessibleName("NAT swing command timeout")
        self.nat_demotion = QCheckBox("Also run it when this appliance stops being primar&y (PA_EVENT=demotion)")
        self.nat_demotion.setAccessibleName("Run the NAT swing command at demotion too")
        self.nat_demotion.setChecked(True)
        self.nat_errors = {
            name: error_label(f"NAT swing {title} error")
            for name, title in (("command", "command"), ("address", "address"), ("timeout_s", "timeout"),
                                ("", "general"))
        }
        self.nat_box = QGroupBox("NAT swing")
        nat_form = QFormLayout()
        nat_form.addRow(hint_label(
            "One argument per line, never a shell string; the first line is the program's absolute path. "
            "It gets PA_EVENT, PA_NEW_PRIMARY_NAME, PA_NEW_PRIMARY_ADDRESS and more in its environment.",
            "About the NAT swing command",
        ))
        _add_field(nat_form, "&Hook command:", self.nat_command, self.nat_errors["command"])
        _add_field(nat_form, "Forward &to address:", self.nat_address, self.nat_errors["address"])
        _add_field(nat_form, "Timeout:", self.nat_timeout, self.nat_errors["timeout_s"])
        nat_form.addRow(self.nat_demotion)
        nat_layout = QVBoxLayout(self.nat_box)
        nat_layout.addLayout(nat_form)
        nat_layout.addWidget(self.nat_errors[""])
        self._nat_inputs: tuple[QWidget, ...] = (
            self.nat_command, self.nat_address, self.nat_timeout, self.nat_demotion,
        )
        # -- Check --------
        self.check_button = button("Chec&k takeover methods", "Check takeover methods")
        self.check_results = QListWidget()
        self.check_results.setAccessibleName("Takeover method check results")
        self.check_results.setWordWrap(True)
        self.check_results.hide()
        self.check_error = error_label("Takeover method check error")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.dns_enabled)
        layout.addWidget(self.dns_box)
        layout.addWidget(self.nat_enabled)
        layout.addWidget(self.nat_box)
        layout.addWidget(hint_label(
            "Check asks the appliance for a dry run of its saved methods: the DNS server accepts the key for the "
            "record, the NAT command exists and is executable. Nothing changes.",
            "About the check",
        ))
        layout.addWidget(self.check_button)
        layout.addWidget(self.check_results)
        layout.addWidget(self.check_error)
        for toggle in (self.dns_enabled, self.nat_enabled, self.nat_demotion):
            toggle.toggled.connect(self._on_edited)
        for edit in (self.dns_server, self.dns_zone, self.dns_record, self.dns_key_name, self.dns_secret,
                     self.dns_address, self.nat_address):
            edit.textChanged.connect(self._on_edited)
        for box in (self.dns_port, self.dns_ttl):
            box.valueChanged.connect(self._on_edited)
        self.nat_timeout.valueChanged.connect(self._on_edited)
        self.dns_algorithm.currentIndexChanged.connect(self._on_edited)
        self.nat_command.textChanged.connect(self._on_edited)
        self.check_button.clicked.connect(self.check)
        self._agent_errors: set[QLabel] = set()

    def _on_edited(self, *_: object) -> None:
        for label in self._agent_errors:  # the agent's word was about what the user has just changed
            show_error(label, None)
        self._agent_errors.clear()
        self.edited.emit()

    # -- state --------
    def set_state(self, state: ApplianceState) -> None:
        if state is not self._state or state.method_checks is not self._shown:
            self._state = state
            self.show_checks(state.method_checks)

    def load(self, s: FailoverSettings) -> None:
        dns, nat = s.dns_swing, s.nat_swing
        self.dns_enabled.setChecked(dns is not None)
        if dns is not None:
            self.dns_server.setText(dns.server)
            self.dns_port.setValue(dns.port)
            self.dns_zone.setText(dns.zone)
            self.dns_record.setText(dns.record)
            self.dns_ttl.setValue(dns.ttl)
            self.dns_key_name.setText(dns.tsig_key_name)
            self.dns_algorithm.setCurrentText(dns.tsig_algorithm)
            self.dns_address.setText(dns.address)
            self.dns_timeout = dns.timeout_s
        # Write-only: the secret never comes back; empty keeps the stored one.
        self.dns_secret.clear()
        self._secret_stored = dns is not None and dns.tsig_secret_set
        self.dns_secret_hint.setText(
            "A secret is stored on the appliance: leave this empty to keep it, or type a new one to replace it."
            if self._secret_stored
            else "No secret is stored on the appliance: enter the key's secret."
        )
        self.nat_enabled.setChecked(nat is not None)
        if nat is not None:
            self.nat_command.setPlainText("\n".join(nat.command))
            self.nat_address.setText(nat.address)
            self.nat_timeout.setValue(nat.timeout_s)
            self.nat_demotion.setChecked(nat.run_at_demotion)
        for label in (*self.dns_errors.values(), *self.nat_errors.values()):
            show_error(label, None)
        self._agent_errors.clear()

    # -- validation --------
    def _dns(self) -> DnsSwingUpdate | FieldErrors | None:
        if not self.dns_enabled.isChecked():
            return None
        fields = DnsFields(
            server=self.dns_server.text(), port=self.dns_port.value(), zone=self.dns_zone.text(),
            record=self.dns_record.text(), ttl=self.dns_ttl.value(), tsig_key_name=self.dns_key_name.text(),
            tsig_algorithm=self.dns_algorithm.currentText(), secret=self.dns_secret.text(),
            address=self.dns_address.text(), timeout_s=self.dns_timeout,
        )
        return dns_swing_from(fields, secret_stored=self._secret_stored)

    def _nat(self) -> NatSwing | FieldErrors | None:
        if not self.nat_enabled.isChecked():
            return None
        return nat_swing_from(NatFields(
            command_text=self.nat_command.toPlainText(), address=self.nat_address.text(),
            timeout_s=self.nat_timeout.value(), run_at_demotion=self.nat_demotion.isChecked(),
        ))

    def validate(self) -> bool:
        """Shows what is wrong next to each field; True when both methods can be sent."""
        dns, nat = self._dns(), self._nat()
        self.dns_box.setEnabled(self.dns_enabled.isChecked())
        self.nat_box.setEnabled(self.nat_enabled.isChecked())
        ok = True
        for result, labels, inputs in (
            (dns, self.dns_errors, {"server": self.dns_server, "zone": self.dns_zone, "record": self.dns_record,
                                    "tsig_key_name": self.dns_key_name, "tsig_secret": self.dns_secret,
                                    "address": self.dns_address}),
            (nat, self.nat_errors, {"command": self.nat_command, "address": self.nat_address}),
        ):
            errors = result if isinstance(result, dict) else {}
            ok = ok and not errors
            others = " ".join(m for n, m in errors.items() if n == "" or n not in labels)
            for name, label in labels.items():
                if label not in self._agent_errors:
                    show_error(label, errors.get(name) if name else others)
            for name, widget in inputs.items():
                set_invalid(widget, name in errors)
        return ok

    def changes(self, loaded: FailoverSettings | None) -> dict[str, object]:
        dns, nat = self._dns(), self._nat()
        assert not isinstance(dns, dict) and not isinstance(nat, dict), "validate() first"
        return method_changes(loaded, dns, nat)

    def show_agent_error(self, method: str, field: str, message: str) -> None:
        labels = self.dns_errors if method == "dns_swing" else self.nat_errors
        label = labels.get(field) or labels[""]
        show_error(label, message)
        self._agent_errors.add(label)

    # -- check --------
    def show_checks(self, checks: list[TakeoverMethodCheck] | None) -> None:
        self._shown = checks
        self.check_results.clear()
        self.check_results.setVisible(checks is not None)
        for check in checks or []:
            ok: bool | None = check.ready if check.configured else None
            mark, icon = MARKS[ok]
            row = QListWidgetItem(status_icon(icon), f"{mark} {check_line(check)}")
            row.setToolTip(check.detail)
            self.check_results.addItem(row)
        if self.check_results.count():
            rows = self.check_results.count() + 1
            self.check_results.setMaximumHeight(self.check_results.sizeHintForRow(0) * rows)

    @async_slot
    async def check(self) -> None:
        state = self._state
        if state is None or self._checking:
            return
        self._checking = True
        self.check_button.setEnabled(False)
        show_error(self.check_error, None)
        try:
            problem = await refresh_method_checks(self._fleet, state)
            show_error(self.check_error, problem and f"The check could not run: {problem}")
            self.show_checks(state.method_checks)
        finally:
            self._checking = False
            self.check_button.setEnabled(True)
