"""On a primary: hand the primary role over to the backup (Become Backup), with a confirmation."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QGroupBox, QVBoxLayout, QWidget

from pa_console.console.services.fleet import Fleet
from pa_console.console.state.appliance import ApplianceState
from pa_console.console.state.readiness import check_readiness
from pa_console.console.state.status import ConnectionStatus
from pa_console.console.views.asyncslot import async_slot
from pa_console.console.views.readiness_view import readiness_text
from pa_console.console.views.widgets import (
    Confirmer,
    OperationView,
    button,
    default_confirmer,
    error_label,
    hint_label,
)
from pa_console.protocol.models import Role, RoleRequest


class HandoverBox(QGroupBox):
    def __init__(self, fleet: Fleet, parent: QWidget | None = None, *, confirm: Confirmer | None = None) -> None:
        super().__init__("Hand over the primary role", parent)
        self._fleet = fleet
        self._state: ApplianceState | None = None
        self.confirm = confirm or default_confirmer(self)
        self.force = QCheckBox("&Force (step down even though the backup cannot be reached)")
        self.force.setAccessibleName("Force step down")
        self.become_backup = button("Become &Backup", "Become backup", "danger")
        self.result = hint_label("", "Hand-over result")
        self.error = error_label("Hand-over error")
        self.op = OperationView(self, self.error, self.result, self._update_button)
        layout = QVBoxLayout(self)
        layout.addWidget(
            hint_label(
                "A planned swap: this appliance becomes the backup and its backup becomes the primary.",
                "About handing over",
            )
        )
        layout.addWidget(self.force)
        layout.addWidget(self.become_backup)
        layout.addWidget(self.result)
        layout.addWidget(self.error)
        self.become_backup.clicked.connect(self.on_become_backup)

    def show_state(self, state: ApplianceState) -> None:
        self._state = state
        self.op.bind(self._fleet.commands(state.id).role)
        related = state.health is not None and state.health.relationship_established
        self.setVisible(related and state.role == Role.PRIMARY)
        self._update_button()

    def _update_button(self) -> None:
        # An appliance the console cannot reach cannot be asked to step down: no button that only fails.
        answers = self._state is not None and self._state.status == ConnectionStatus.ONLINE
        self.become_backup.setEnabled(answers and not self.op.busy)
        self.become_backup.setToolTip("" if answers else "The console cannot reach this appliance now.")

    def what_will_happen(self) -> str:
        state = self._state
        assert state is not None
        peer = state.health.peer.name if state.health and state.health.peer else "the backup"
        if self.force.isChecked():
            head = (
                f"{state.name} becomes a backup WITHOUT reaching {peer}. Until {peer} takes over, no appliance "
                "is primary and the site is not served. Use this only when you know what the backup will do."
            )
        else:
            head = (
                f"{peer} is asked to become the primary, then {state.name} becomes its backup. "
                "There is no moment with two primaries."
            )
        # The same readiness as Become Primary shows: whether the backup is fit to take the role.
        readiness = check_readiness(state, self._fleet.peer_of(state.id))
        return f"{head}\n\nReadiness:\n{readiness_text(readiness)}"

    @async_slot
    async def on_become_backup(self) -> None:
        state = self._state
        if state is None or self.op.busy:
            return
        if not await self.confirm("Become backup?", self.what_will_happen()):
            return
        await self._fleet.commands(state.id).set_role(RoleRequest(role="backup", force=self.force.isChecked()))
