"""Primary lost: a countdown ticking every second (or "manual failover needed"); Become Primary."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QGroupBox, QLabel, QVBoxLayout, QWidget

from pa_console.console.services.fleet import Fleet
from pa_console.console.services.method_checks import has_swing, refresh_method_checks
from pa_console.console.state.appliance import ApplianceState
from pa_console.console.state.outlook import auto_failover, countdown_words, lost_line
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
    set_role,
)
from pa_console.protocol.models import Role, RoleRequest


class TakeoverBox(QGroupBox):
    def __init__(self, fleet: Fleet, parent: QWidget | None = None, *, confirm: Confirmer | None = None) -> None:
        super().__init__("Failover", parent)
        self._fleet = fleet
        self._state: ApplianceState | None = None
        self.confirm = confirm or default_confirmer(self)
        self.countdown = QLabel()
        self.countdown.setAccessibleName("Failover countdown")
        self.countdown.setWordWrap(True)
        self.countdown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.big_countdown = QLabel()
        self.big_countdown.setAccessibleName("Seconds before automatic takeover")
        font = self.big_countdown.font()
        font.setPointSizeF(font.pointSizeF() * 2.5)
        font.setBold(True)
        self.big_countdown.setFont(font)
        self.big_countdown.hide()
        self.sync_first = QCheckBox("Sync &first (the primary is reachable)")
        self.sync_first.setAccessibleName("Sync first")
        self.sync_first.setChecked(True)
        self.force = QCheckBox("&Force (take over alone; the primary is unreachable)")
        self.force.setAccessibleName("Force")
        self.become_primary = button("Become &Primary", "Become primary", "danger")
        self.result = QLabel()
        self.result.setAccessibleName("Failover result")
        self.result.setWordWrap(True)
        self.error = error_label("Failover error")
        self.op = OperationView(self, self.error, self.result, self._update_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.big_countdown)
        layout.addWidget(self.countdown)
        layout.addWidget(self.sync_first)
        layout.addWidget(self.force)
        layout.addWidget(self.become_primary)
        layout.addWidget(self.result)
        layout.addWidget(self.error)
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        self.force.toggled.connect(self._update_button)
        self.become_primary.clicked.connect(self.on_become_primary)

    def show_state(self, state: ApplianceState) -> None:
        self._state = state
        self.op.bind(self._fleet.commands(state.id).role)
        self.setVisible(state.role == Role.BACKUP)
        reachable = state.health is not None and state.health.primary_reachable is not False
        answers = state.status == ConnectionStatus.ONLINE
        self.sync_first.setVisible(reachable and answers)
        self.force.setVisible(not reachable and answers)
        if reachable:
            self.force.setChecked(False)
        self._tick()
        self._update_button()

    def _update_button(self, *_: object) -> None:
        state = self._state
        if state is None:
            return
        reachable = state.health is not None and state.health.primary_reachable is not False
        # A backup the console cannot reach cannot be asked to become primary: no button that only fails.
        answers = state.status == ConnectionStatus.ONLINE
        self.become_primary.setEnabled(answers and not self.op.busy and (reachable or self.force.isChecked()))

    def _tick(self) -> None:
        state = self._state
        if state is None or state.health is None or state.role != Role.BACKUP:
            return
        if state.status != ConnectionStatus.ONLINE:
            # What it last said of its primary is no longer known to be so: say what is known instead.
            self.countdown.setText(
                f"The console cannot reach {state.name} ({state.status_detail.rstrip('.')}). Whether it reaches "
                "its primary is not known now; it can be made primary once it answers again.")
            self.big_countdown.hide()
            set_role(self.countdown, "banner-warning")
            return
        line = lost_line(state)
        left = state.countdown_left()
        if line is None:
            self.countdown.setText("The primary is reachable.")
            self.big_countdown.hide()
            set_role(self.countdown, "hint")
            return
        reason = state.lost_reason
        text = line + (f"\nWhy: {reason}" if reason else "")
        if auto_failover(state).takes_over and left is not None:
            # Large, readable across the room; the same second as the banner and the diagram.
            self.big_countdown.setText(countdown_words(left))
            self.big_countdown.show()
        else:
            text += "\nPress Become Primary with Force to make this backup the primary."
            self.big_countdown.hide()
        self.countdown.setText(text)
        set_role(self.countdown, "banner-error")

    def what_will_happen(self) -> str:
        state = self._state
        assert state is not None
        peer = self._fleet.peer_of(state.id)
        readiness = check_readiness(state, peer)
        if self.force.isChecked():
            head = (
                f"{state.name} takes over ALONE as primary, without a last sync: changes made on the lost "
                "primary since the last sync are not on this appliance. "
                "If the old primary returns, it demotes itself."
            )
        elif self.sync_first.isChecked():
            head = (
                f"A last sync runs first, then {state.name} becomes the primary and the current primary "
                "becomes the backup. There is no moment with two primaries."
            )
        else:
            head = f"{state.name} becomes the primary now (no last sync); the current primary becomes backup."
        return f"{head}\n\nReadiness:\n{readiness_text(readiness)}"

    @async_slot
    async def on_become_primary(self) -> None:
        state = self._state
        if state is None or self.op.busy:
            return
        if has_swing(state):  # the readiness shows the DNS/NAT swing's dry run, fresh
            await refresh_method_checks(self._fleet, state)
        if not await self.confirm("Become primary?", self.what_will_happen()):
            return
        request = RoleRequest(
            role="primary",
            sync_first=self.sync_first.isChecked() and self.sync_first.isVisible(),
            force=self.force.isChecked() and self.force.isVisible(),
        )
        await self._fleet.commands(state.id).set_role(request)
