"""Establish a failover relationship: backup details, reverse details, a key pre-check, errors by field."""

from __future__ import annotations

import shiboken6
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from pa_console.console.client.errors import AgentError
from pa_console.console.fingerprints import same_fingerprint
from pa_console.console.services.fleet import Fleet
from pa_console.console.state.appliance import ApplianceState
from pa_console.console.state.status import ConnectionStatus
from pa_console.console.views.asyncslot import async_slot
from pa_console.console.views.widgets import (
    Subscriptions,
    button,
    error_label,
    hint_label,
    host_problem,
    line_edit,
    port_box,
    set_invalid,
    set_role,
    show_error,
)
from pa_console.protocol.models import Endpoint, Role


def field_of_error(exc: AgentError) -> str:
    """Which part of the form an agent's error concerns: "backup", "reverse", "key" or "general"."""
    if exc.field:
        head = exc.field.split(".")[0]
        if head in ("backup", "reverse"):
            return head
    if exc.agent_category == "key":
        return "key"
    if exc.agent_category == "connection":
        return "backup"
    text = exc.message.lower()
    if "key" in text and ("differ" in text or "match" in text or "fingerprint" in text):
        return "key"
    if "reverse" in text or "reach the primary" in text or "back to" in text:
        return "reverse"
    if "backup" in text or "peer" in text:
        return "backup"
    return "general"


class EndpointFields:
    """Host and port of one side, validated as the user types."""

    def __init__(self, title: str, what: str) -> None:
        self.box = QGroupBox(title)
        self.host = line_edit(f"{what} host", "host name or IP address")
        self.port = port_box(f"{what} port")
        self.error = error_label(f"{what} error")
        # What the agent said about these details; cleared when the user edits them.
        self.agent_error = error_label(f"{what} error from the appliance")
        form = QFormLayout(self.box)
        form.addRow("Host:", self.host)
        form.addRow("Port:", self.port)
        form.addRow(self.error)
        form.addRow(self.agent_error)
        self.host.textEdited.connect(self._edited)
        self.port.valueChanged.connect(self._edited)

    def _edited(self, *_: object) -> None:
        show_error(self.agent_error, None)

    def problem(self) -> str | None:
        return host_problem(self.host.text())

    def validate(self) -> bool:
        problem = self.problem() if self.host.text() else None
        set_invalid(self.host, problem is not None)
        show_error(self.error, problem)
        return self.host.text() != "" and problem is None

    def endpoint(self) -> Endpoint:
        return Endpoint(host=self.host.text().strip(), port=self.port.value())

    def set(self, host: str, port: int) -> None:
        self.host.setText(host)
        self.port.setValue(port)


class EstablishForm(QWidget):
    def __init__(self, fleet: Fleet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fleet = fleet
        self._primary: ApplianceState | None = None
        self._busy = False
        self._key_asked: set[str] = set()
        self.pick = QComboBox()
        self.pick.setAccessibleName("Fill backup details from an appliance in this console")
        self.backup = EndpointFields("New Backup Site Connection Details", "Backup")
        self.reverse = EndpointFields("Reverse Connection Details to this Primary Site", "Reverse")
        self.key_check = QLabel()
        self.key_check.setWordWrap(True)
        self.key_check.setAccessibleName("Key check")
        self.auto_failover = QCheckBox("The backup &takes over automatically if this primary is lost")
        self.auto_failover.setAccessibleName("Automatic failover on the backup")
        self.auto_hint = hint_label("", "About automatic failover on the backup")
        self.error = error_label("Establish error")
        self.establish_button = button("&Establish relationship", "Establish relationship", "primary")
        layout = QVBoxLayout(self)
        layout.addWidget(
            hint_label(
                "This appliance becomes the primary. The backup pulls its data; the reverse details tell the "
                "backup how to reach this appliance.",
                "About establishing",
            )
        )
        pick_row = QFormLayout()
        pick_row.addRow("Backup appliance:", self.pick)
        layout.addLayout(pick_row)
        layout.addWidget(self.backup.box)
        layout.addWidget(self.reverse.box)
        layout.addWidget(self.key_check)
        layout.addWidget(self.auto_failover)
        layout.addWidget(self.auto_hint)
        layout.addWidget(self.error)
        layout.addWidget(self.establish_button)
        for edit in (self.backup.host, self.reverse.host):
            edit.textChanged.connect(self.revalidate)
        for box in (self.backup.port, self.reverse.port):
            box.valueChanged.connect(self.revalidate)
        self.pick.activated.connect(self._picked)
        self.establish_button.clicked.connect(self.establish)
        # The picker follows every appliance of the console: after a break, the other one becomes standalone (a
        # candidate) a poll later than this one; without this the form kept offering "by hand" only.
        self._candidate_subs = Subscriptions(self)
        self._fleet_subs = Subscriptions(self)
        self._fleet_subs.add(fleet.changed, self._watch_candidates)
        self._watch_candidates(None)
        self.revalidate()

    def _watch_candidates(self, _: None) -> None:
        self._candidate_subs.clear()
        for state in self._fleet.states.values():
            self._candidate_subs.add(state.changed, self._candidate_changed)
        self._candidate_changed("health")

    def _candidate_changed(self, what: str) -> None:
        if what in ("health", "status", "key") and self._primary is not None and shiboken6.isValid(self):
            self._fill_pick()
            self.revalidate()

    def set_primary(self, primary: ApplianceState | None) -> None:
        changed = primary is not self._primary
        self._primary = primary
        if primary is None:
            return
        if changed:
            self.reverse.set(primary.ref.host, primary.ref.port)
            show_error(self.error, None)
        self._fill_pick()
        self.revalidate()

    def candidates(self) -> list[ApplianceState]:
        """Every appliance the console knows that can become this primary's backup: standalone (or not known yet)."""
        return [s for s in self._fleet.states.values()
                if s is not self._primary and s.role in (Role.STANDALONE, None)]

    def _fill_pick(self) -> None:
        wanted = [(s.id, s.name) for s in self.candidates()]
        present = [(self.pick.itemData(i), self.pick.itemText(i).split(" (")[0]) for i in range(1, self.pick.count())]
        if wanted != present:
            self.pick.blockSignals(True)
            self.pick.clear()
            self.pick.addItem("(enter the details by hand)", None)
            for state in self.candidates():
                self.pick.addItem(f"{state.name} ({state.ref.address})", state.id)
            self.pick.blockSignals(False)
        self._follow_typed()

    def _follow_typed(self) -> None:
        """The picker shows the appliance whose address is typed (by hand or picked), else 'by hand'."""
        backup = self.backup_state()
        index = self.pick.findData(backup.id) if backup is not None else 0
        if self.pick.currentIndex() != max(index, 0):
            self.pick.setCurrentIndex(max(index, 0))

    def _picked(self, index: int) -> None:
        appliance_id = self.pick.itemData(index)
        if appliance_id:
            state = self._fleet.state(str(appliance_id))
            self.backup.set(state.ref.host, state.ref.port)

    @async_slot
    async def _fetch_key(self, state: ApplianceState) -> None:
        """Read a candidate's key if the console has not yet, so the keys are compared before Establish."""
        if not state.key_fingerprint:
            await self._fleet.refresh(state.id, parts=frozenset({"key"}))
            if shiboken6.isValid(self):
                self.revalidate()

    def backup_state(self) -> ApplianceState | None:
        return self._fleet.find_by_address(self.backup.host.text().strip(), self.backup.port.value())

    def key_status(self) -> bool | None:
        """True: keys match; False: they differ; None: cannot tell."""
        backup = self.backup_state()
        if self._primary is None or backup is None:
            return None
        if not self._primary.key_fingerprint or not backup.key_fingerprint:
            return None
        return same_fingerprint(self._primary.key_fingerprint, backup.key_fingerprint)

    def revalidate(self, *_: object) -> None:
        ok = self.backup.validate() & self.reverse.validate()
        self._follow_typed()
        backup = self.backup_state()
        # Nothing typed yet while the console knows possible backups: say to choose one, not to add one.
        choose = backup is None and not self.backup.host.text().strip() and bool(self.candidates())
        self.auto_failover.setEnabled(backup is not None)
        if backup is not None:
            self.auto_hint.setText(
                f"Off, a lost primary waits for an administrator; on, {backup.name} takes over once the primary has "
                "been lost for its timeout. You can change it later in the backup's failover settings.")
        elif choose:
            self.auto_hint.setText("Choose the backup appliance above to set this now.")
        else:
            self.auto_hint.setText(
                "Add the backup appliance to the console to set this now; otherwise set it later in its settings.")
        keys = self.key_status()
        if keys is True:
            self.key_check.setText("✔ The Inter-Appliance keys of both appliances match.")
            set_role(self.key_check, "hint")
        elif keys is False:
            self.key_check.setText(
                "✘ The Inter-Appliance keys differ: the backup will refuse. Set the same key on both (Security tab)."
            )
            set_role(self.key_check, "error")
        elif backup is not None and backup.status != ConnectionStatus.ONLINE:
            self.key_check.setText(f"{backup.name} {backup.status.phrase}: its key cannot be compared now.")
            set_role(self.key_check, "hint")
        elif backup is not None:
            self.key_check.setText(f"Reading the Inter-Appliance key of {backup.name} to compare it…")
            set_role(self.key_check, "hint")
            if backup.id not in self._key_asked:
                self._key_asked.add(backup.id)
                self._fetch_key(backup)
        elif choose:
            self.key_check.setText(
                "Choose the backup appliance above (or type its address); the console then compares the "
                "Inter-Appliance keys before you establish."
            )
            set_role(self.key_check, "hint")
        else:
            self.key_check.setText(
                "The console cannot compare the keys: add the backup appliance to the console to check them first."
            )
            set_role(self.key_check, "hint")
        self.establish_button.setEnabled(ok and keys is not False and not self._busy and self._primary is not None)

    @async_slot
    async def establish(self) -> None:
        if self._primary is None or self._busy:
            return
        primary = self._primary
        self._busy = True
        self.establish_button.setEnabled(False)
        for label in (self.error, self.backup.agent_error, self.reverse.agent_error):
            show_error(label, None)
        backup = self.backup_state()
        commands = self._fleet.commands(primary.id)
        try:
            established, problem = await commands.establish(self.backup.endpoint(), self.reverse.endpoint(),
                                                     backup.id if backup is not None else None,
                                                     self.auto_failover.isChecked())
        finally:
            self._busy = False
            self.revalidate()
        failure = commands.establishing.failure
        if not established and failure is not None:
            target = field_of_error(failure)
            label = {"backup": self.backup.agent_error, "reverse": self.reverse.agent_error}.get(target, self.error)
            show_error(label, failure.message)
            if target == "key":
                self.key_check.setText(failure.message)
                set_role(self.key_check, "error")
            return
        if problem is not None:
            show_error(self.error, problem)

    def edits(self) -> list[QLineEdit | QSpinBox]:
        return [self.backup.host, self.backup.port, self.reverse.host, self.reverse.port]
