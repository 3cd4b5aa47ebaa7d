"""Failover settings of one appliance: pull interval, instance timeout, alerts, takeover methods.

An explicit form (issue 15): Apply and Revert, a marker while it holds changes not applied, only the fields that
apply to the appliance's role, the shared address and DNS/NAT swing folded unless used, and no value changed by the
mouse wheel unless the field has the focus. One form per appliance (the Failover pane keeps them), so switching
appliance keeps an edit in progress."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

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
    no_wheel_edits,
    port_box,
    set_invalid,
    set_role,
    show_error,
)
from pa_console.protocol.models import FailoverSettings, FailoverSettingsUpdate, Role, SharedAddress


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
        self._loaded_before_apply: FailoverSettings | None = None
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
        self.save_button = button("&Apply", "Apply settings", "primary")
        self.revert_button = button("Re&vert", "Revert settings")
        self.changed_marker = QLabel("● Changed, not applied yet")
        self.changed_marker.setAccessibleName("Settings changed")
        set_role(self.changed_marker, "changed")
        self.changed_marker.hide()
        self.newer_on_appliance = hint_label("", "Settings changed on the appliance")
        self.newer_on_appliance.hide()
        self.methods_toggle = QToolButton()
        self.methods_toggle.setText("Takeover by DNS swing or NAT swing")
        self.methods_toggle.setAccessibleName("Show DNS and NAT swing")
        self.methods_toggle.setCheckable(True)
        self.methods_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.methods_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.methods_toggle.toggled.connect(self._fold_methods)
        self.methods.hide()
        form = QFormLayout()
        self.form = form
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
        layout.addWidget(self.methods_toggle)
        layout.addWidget(self.methods)
        layout.addWidget(self.error)
        buttons = QHBoxLayout()
        buttons.addWidget(self.changed_marker, 1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)
        layout.addLayout(buttons)
        layout.addWidget(self.newer_on_appliance)
        layout.addWidget(self.save_result)
        self.methods.edited.connect(self._validate)
        self.address.textChanged.connect(self._validate)
        for toggle in (self.sync_enabled, self.auto_failover, self.shared_enabled):
            toggle.toggled.connect(self._validate)
        for spin in (self.pull_interval, self.primary_timeout, self.no_pull_alert, self.address_port):
            spin.valueChanged.connect(self._validate)
        self.driver.currentTextChanged.connect(self._validate)
        self.interface.textChanged.connect(self._validate)
        self.revert_button.clicked.connect(self.revert)
        no_wheel_edits(self)
        self.address.textEdited.connect(lambda _text: show_error(self.address_error, None))
        self.save_button.clicked.connect(self.save)

    def show_state(self, state: ApplianceState) -> None:
        switched = state is not self._state
        self._state = state
        self._show_role_rows(state.role)
        settings = state.settings
        if settings is None:
            self.setEnabled(False)
            return
        self.setEnabled(True)
        self.methods.set_state(state)
        if switched or self._loaded is None or (settings != self._loaded and not self.is_dirty()):
            self._load(settings)
        elif settings != self._loaded:
            # Never overwrite an edit in progress: say that the appliance's settings changed meanwhile.
            self.newer_on_appliance.setText("The appliance's settings changed meanwhile; Revert shows them.")
            self.newer_on_appliance.show()

    def _show_role_rows(self, role: Role | None) -> None:
        """Only the fields that apply: the pull, timeout and automatic failover on a backup; the alert on a primary."""
        backup_side = role != Role.PRIMARY
        primary_side = role != Role.BACKUP
        for widget in (self.sync_enabled, self.pull_interval, self.primary_timeout, self.auto_failover):
            self.form.setRowVisible(widget, backup_side)
        self.form.setRowVisible(self.no_pull_alert, primary_side)

    def _fold_shared(self) -> None:
        on = self.shared_enabled.isChecked()
        for widget in (self.driver, self.address, self.address_port, self.interface):
            self.form.setRowVisible(widget, on)
        self.form.setRowVisible(self.address_error, on and not self.address_error.isHidden())

    def _fold_methods(self, unfolded: bool) -> None:
        self.methods.setVisible(unfolded)
        self.methods_toggle.setArrowType(Qt.ArrowType.DownArrow if unfolded else Qt.ArrowType.RightArrow)

    def _busy_now(self) -> bool:
        state = self._state
        return state is not None and self._fleet.commands(state.id).settings.busy

    def is_dirty(self) -> bool:
        """Whether the form holds something the appliance does not (an invalid entry counts as a change)."""
        if self._loaded is None:
            return False
        if isinstance(self._shared(), str) or not self.methods.validate():
            return True
        return bool(self.update_body().model_fields_set)

    def revert(self) -> None:
        state = self._state
        if state is not None and state.settings is not None:
            self._load(state.settings)

    def _load(self, s: FailoverSettings) -> None:
        self._loaded = None  # while the widgets are filled, nothing counts as an edit
        self.newer_on_appliance.hide()
        self.save_result.setText("")
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
        used = s.dns_swing is not None or s.nat_swing is not None
        self.methods_toggle.setChecked(used or self.methods_toggle.isChecked())
        self._loaded = s
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
        self._fold_shared()
        bad = isinstance(shared, str)
        set_invalid(self.address, bad)
        show_error(self.error, shared if isinstance(shared, str) else None)
        bad = not self.methods.validate() or bad
        dirty = self.is_dirty()
        self.changed_marker.setVisible(dirty)
        if dirty:
            self.save_result.setText("")  # "Applied." beside "Changed, not applied yet" said both at once
        self.setTitle("Failover settings (changed, not applied)" if dirty else "Failover settings")
        busy = self._busy_now()
        self.save_button.setEnabled(not bad and dirty and not busy)
        self.revert_button.setEnabled(dirty and not busy)
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
        if state is None or self._busy_now() or not self._validate():
            return
        body = self.update_body()
        if not body.model_fields_set:
            self.save_result.setText("Nothing changed.")
            return
        role = state.role
        if role == Role.PRIMARY:  # fields hidden for the role are never sent
            body = FailoverSettingsUpdate(**body.model_dump(exclude_unset=True, exclude={
                "sync_enabled", "pull_interval_s", "primary_timeout_s", "auto_failover"}))
        elif role == Role.BACKUP:
            body = FailoverSettingsUpdate(**body.model_dump(exclude_unset=True, exclude={"no_pull_alert_s"}))
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
        show_error(self.error, None)
        operation = self._fleet.commands(state.id).settings
        self._validate()
        try:
            self._loaded_before_apply = self._loaded
            self._loaded = None  # the appliance's answer becomes the new baseline, even over hidden fields
            saved = await self._fleet.commands(state.id).apply_settings(body)
        finally:
            self._loaded = self._loaded or self._loaded_before_apply
        if saved is not None:
            self._load(saved)
            self.save_result.setText("Applied.")
            return
        message = operation.error or "The settings were not applied."
        method_field = field_of_agent_error(operation.error_field, message)
        if method_field is not None:
            self.methods.show_agent_error(*method_field, message)
        else:
            about_address = ((operation.error_field or "").startswith("shared_address")
                             or "shared address" in message.lower())
            show_error(self.address_error if about_address else self.error, message)
        self._validate()
