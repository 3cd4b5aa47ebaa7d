"""Failover settings of one appliance: pull interval, instance timeout, alerts, takeover methods."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from pa_console.console.client.errors import AgentError
from pa_console.console.services.fleet import Fleet
from pa_console.console.services.method_checks import has_swing, refresh_method_checks
from pa_console.console.state.appliance import ApplianceState
from pa_console.console.state.readiness import check_readiness
from pa_console.console.state.takeover_methods import field_of_agent_error
from pa_console.console.views.asyncslot import async_slot
from pa_console.console.views.readiness_view import readiness_text
from pa_console.console.views.takeover_methods_form import TakeoverMethodsForm
from pa_console.console.views.widgets import (
    Confirmer,
    button,
    default_confirmer,
    error_label,
    hint_label,
    line_edit,
    port_box,
    set_invalid,
    show_error,
)
from pa_console.protocol.models import FailoverSettings, FailoverSettingsUpdate, SharedAddress


def seconds_box(name: str, low: float, high: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(0)
    box.setSuffix(" s")
    box.setAccessibleName(name)
    return box


class SettingsForm(QGroupBox):
    def __init__(self, fleet: Fleet, parent: QWidget | None = None, *, confirm: Confirmer | None = None) -> None:
        super().__init__("Failover settings", parent)
        self._fleet = fleet
        self._state: ApplianceState | None = None
        self._loaded: FailoverSettings | None = None
        self._busy = False
        self.confirm = confirm or default_confirmer(self)
        self.sync_enabled = QCheckBox("Synchronisation &enabled")
        self.sync_enabled.setAccessibleName("Synchronisation enabled")
        self.pull_interval = seconds_box("Pull interval", 1, 86_400)
        self.primary_timeout = seconds_box("Primary Site Instance Timeout", 2, 86_400)
        self.no_pull_alert = seconds_box("No-pull alert after", 1, 30 * 86_400)
        self.auto_failover = QCheckBox("&Automatic failover when the timeout ends")
        self.auto_failover.setAccessibleName("Automatic failover")
        self.shared_enabled = QCheckBox("Use a &shared address")
        self.shared_enabled.setAccessibleName("Use a shared address")
        self.driver = QComboBox()
        self.driver.addItems(["loopback", "iproute2", "load_balancer"])
        self.driver.setAccessibleName("Shared address driver")
        self.address: QLineEdit = line_edit("Shared address", "10.0.0.100")
        self.address_port: QSpinBox = port_box("Shared address port", 8443)
        self.interface: QLineEdit = line_edit("Network interface", "eth0 (iproute2 only)")
        self.error = error_label("Settings error")
        self.address_error = error_label("Shared address error from the appliance")
        self.methods = TakeoverMethodsForm(fleet)
        self.save_result = hint_label("", "Save result")
        self.save_button = button("Sa&ve settings", "Save settings", "primary")
        form = QFormLayout()
        form.addRow(self.sync_enabled)
        form.addRow("Pull interval:", self.pull_interval)
        form.addRow("Primary Site Instance Timeout:", self.primary_timeout)
        form.addRow("No-pull alert after:", self.no_pull_alert)
        form.addRow(self.auto_failover)
        form.addRow(self.shared_enabled)
        form.addRow("Driver:", self.driver)
        form.addRow("Address:", self.address)
        form.addRow("", self.address_error)
        form.addRow("Port:", self.address_port)
        form.addRow("Interface:", self.interface)
        layout = QVBoxLayout(self)
        layout.addWidget(
            hint_label(
                "Each appliance keeps its own failover settings. The pull interval and timeout matter on the "
                "backup; the no-pull alert on the primary.",
                "About failover settings",
            )
        )
        layout.addLayout(form)
        layout.addWidget(self.methods)
        layout.addWidget(self.error)
        layout.addWidget(self.save_button)
        layout.addWidget(self.save_result)
        self.methods.edited.connect(self._validate)
        self.shared_enabled.toggled.connect(self._validate)
        self.address.textChanged.connect(self._validate)
        self.address.textEdited.connect(lambda _text: show_error(self.address_error, None))
        self.save_button.clicked.connect(self.save)

    def show_state(self, state: ApplianceState) -> None:
        switched = state is not self._state
        self._state = state
        settings = state.settings
        if settings is None:
            self.setEnabled(False)
            return
        self.setEnabled(True)
        self.methods.set_state(state)
        if switched or settings != self._loaded:
            self._load(settings)

    def _load(self, s: FailoverSettings) -> None:
        self._loaded = s
        self.sync_enabled.setChecked(s.sync_enabled)
        self.pull_interval.setValue(s.pull_interval_s)
        self.primary_timeout.setValue(s.primary_timeout_s)
        self.no_pull_alert.setValue(s.no_pull_alert_s)
        self.auto_failover.setChecked(s.auto_failover)
        self.shared_enabled.setChecked(s.shared_address is not None)
        if s.shared_address is not None:
            self.driver.setCurrentText(s.shared_address.driver)
            self.address.setText(s.shared_address.address)
            self.address_port.setValue(s.shared_address.port)
            self.interface.setText(s.shared_address.interface or "")
        self.methods.load(s)
        self._validate()

    def _shared(self) -> SharedAddress | str | None:
        """The shared address from the form, None when off, or a sentence saying what is wrong."""
        if not self.shared_enabled.isChecked():
            return None
        try:
            text = self.driver.currentText()
            driver = "iproute2" if text == "iproute2" else "load_balancer" if text == "load_balancer" else "loopback"
            return SharedAddress(
                driver=driver,
                address=self.address.text(),
                port=self.address_port.value(),
                interface=self.interface.text().strip() or None,
            )
        except ValueError:
            return "The shared address must be an IP address such as 10.0.0.100."

    def _validate(self, *_: object) -> bool:
        shared = self._shared()
        for w in (self.driver, self.address, self.address_port, self.interface):
            w.setEnabled(self.shared_enabled.isChecked())
        bad = isinstance(shared, str)
        set_invalid(self.address, bad)
        show_error(self.error, shared if isinstance(shared, str) else None)
        bad = not self.methods.validate() or bad
        self.save_button.setEnabled(not bad and not self._busy)
        return not bad

    def update_body(self) -> FailoverSettingsUpdate:
        """Only what differs from the settings loaded (the PUT is partial; None removes a method)."""
        shared = self._shared()
        assert not isinstance(shared, str)
        values: dict[str, object] = {
            "sync_enabled": self.sync_enabled.isChecked(),
            "pull_interval_s": self.pull_interval.value(),
            "primary_timeout_s": self.primary_timeout.value(),
            "no_pull_alert_s": self.no_pull_alert.value(),
            "auto_failover": self.auto_failover.isChecked(),
            "shared_address": shared,
        }
        loaded = self._loaded
        changed = {k: v for k, v in values.items() if loaded is None or getattr(loaded, k) != v}
        changed.update(self.methods.changes(loaded))
        return FailoverSettingsUpdate(**changed)

    @async_slot
    async def save(self) -> None:
        state = self._state
        if state is None or self._busy or not self._validate():
            return
        body = self.update_body()
        if not body.model_fields_set:
            self.save_result.setText("Nothing changed.")
            return
        self.save_result.setText("")
        turning_on = body.auto_failover is True and not (self._loaded and self._loaded.auto_failover)
        if turning_on:
            if has_swing(state) and not body.model_fields_set & {"dns_swing", "nat_swing"}:
                await refresh_method_checks(self._fleet, state)  # the saved methods, dry run, for the readiness
            current = state.settings or FailoverSettings()
            pending = current.model_copy(update={k: getattr(body, k) for k in body.model_fields_set})
            readiness = check_readiness(state, self._fleet.peer_of(state.id), pending=pending)
            if not readiness.ready and not await self.confirm(
                "Turn on automatic failover?",
                "The pair is not fully ready for automatic failover:\n\n"
                + readiness_text(readiness)
                + "\n\nTurn it on anyway?",
            ):
                return
        self._busy = True
        self.save_button.setEnabled(False)
        show_error(self.error, None)
        try:
            saved = await self._fleet.client(state.id).update_failover_settings(body)
            state.set_settings(saved)
        except AgentError as exc:
            method_field = field_of_agent_error(exc.field, exc.message)
            if method_field is not None:
                self.methods.show_agent_error(*method_field, exc.message)
                return
            about_address = (exc.field or "").startswith("shared_address") or "shared address" in exc.message.lower()
            show_error(self.address_error if about_address else self.error, exc.message)
        finally:
            self._busy = False
            self._validate()
