"""The Failover pane, read top-down (issue 15): status first (the pair, the countdown, sync, readiness), then the
actions (establish, hand over, break), then the settings in their own section."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGroupBox, QLabel, QScrollArea, QVBoxLayout, QWidget

from pa_console.console.services.fleet import Fleet
from pa_console.console.state.appliance import ApplianceState
from pa_console.console.state.formatting import human_bytes
from pa_console.console.state.picture import build_picture
from pa_console.console.state.readiness import check_readiness
from pa_console.console.state.status import ConnectionStatus
from pa_console.console.views.asyncslot import async_slot
from pa_console.console.views.establish_form import EstablishForm
from pa_console.console.views.handover_box import HandoverBox
from pa_console.console.views.readiness_view import ReadinessView
from pa_console.console.views.relationship_diagram import RelationshipDiagram
from pa_console.console.views.settings_form import SettingsForm
from pa_console.console.views.sync_box import SyncBox
from pa_console.console.views.takeover_box import TakeoverBox
from pa_console.console.views.widgets import (
    Confirmer,
    OperationView,
    Subscriptions,
    button,
    default_confirmer,
    error_label,
    hint_label,
    show_error,
)
from pa_console.protocol.models import Role


def section_title(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.25)
    font.setBold(True)
    label.setFont(font)
    label.setAccessibleName(f"{text} section")
    return label


class FormDeck(QWidget):
    """One settings form shown at a time, the deck as tall as that one. (A QStackedWidget is as tall as its tallest
    page: a primary's short form showed in the height of a backup's longer one, with a gap above and below.)"""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._current: QWidget | None = None

    def addWidget(self, widget: QWidget) -> None:
        self._layout.addWidget(widget)
        widget.setVisible(self._current is None)
        if self._current is None:
            self._current = widget

    def setCurrentWidget(self, widget: QWidget) -> None:
        if widget is self._current:
            return
        if self._current is not None:
            self._current.hide()
        self._current = widget
        widget.show()

    def currentWidget(self) -> QWidget | None:
        return self._current


class FailoverPane(QScrollArea):
    def __init__(self, fleet: Fleet, parent: QWidget | None = None, *, confirm: Confirmer | None = None) -> None:
        super().__init__(parent)
        self._fleet = fleet
        self._state: ApplianceState | None = None
        self._peer: ApplianceState | None = None
        self._subs = Subscriptions(self)
        self.confirm = confirm or default_confirmer(self)
        self.setAccessibleName("Failover")
        self.setWidgetResizable(True)
        body = QWidget()
        self.diagram = RelationshipDiagram()
        self.establish_box = QGroupBox("Establish a failover relationship")
        self.establish = EstablishForm(fleet)
        QVBoxLayout(self.establish_box).addWidget(self.establish)
        self.sync = SyncBox(fleet)
        self.takeover = TakeoverBox(fleet, confirm=self._confirm)
        self.handover = HandoverBox(fleet, confirm=self._confirm)
        # One settings form per appliance, so that switching appliance keeps an edit in progress.
        self._forms: dict[str, SettingsForm] = {}
        self.settings_stack = FormDeck()
        self._blank_settings = SettingsForm(fleet, confirm=self._confirm)
        self.settings_stack.addWidget(self._blank_settings)
        self.status_title = section_title("Status")
        self.actions_title = section_title("Actions")
        self.settings_title = section_title("Settings")
        self.readiness_box = QGroupBox("Readiness for failover")
        self.readiness = ReadinessView()
        QVBoxLayout(self.readiness_box).addWidget(self.readiness)
        self.break_box = QGroupBox("Break Failover Relationships")
        self.break_button = button("&Break Failover Relationships", "Break failover relationships", "danger")
        self.break_result = hint_label("", "Break result")
        self.break_error = error_label("Break error")
        break_layout = QVBoxLayout(self.break_box)
        break_layout.addWidget(self.break_button)
        break_layout.addWidget(self.break_result)
        break_layout.addWidget(self.break_error)
        self.break_op = OperationView(self, self.break_error, self.break_result, self._render_break)
        self.empty = hint_label("Add an appliance and select it to see its failover state.", "No appliance")
        layout = QVBoxLayout(body)
        for w in (
            self.empty,
            self.status_title,
            self.diagram,
            self.takeover,
            self.sync,
            self.readiness_box,
            self.actions_title,
            self.establish_box,
            self.handover,
            self.break_box,
            self.settings_title,
            self.settings_stack,
        ):
            layout.addWidget(w)
        layout.addStretch(1)
        self.setWidget(body)
        self.break_button.clicked.connect(self.on_break)
        # Between the agent's ticks the diagram's countdown moves on with the state's clock, as the banner's does.
        self.clock = QTimer(self)
        self.clock.setInterval(1000)
        self.clock.timeout.connect(self._tick)
        self.clock.start()
        self.set_appliance(None)

    def _render_break(self) -> None:
        # Break is asked of the selected appliance: not while the console cannot reach it (break it from the
        # other appliance then).
        answers = self._state is not None and self._state.status == ConnectionStatus.ONLINE
        self.break_button.setEnabled(answers and not self.break_op.busy)
        self.break_button.setToolTip("" if answers else "The console cannot reach this appliance now; break the "
                                     "relationship from the other appliance, or wait until this one answers.")

    def _tick(self) -> None:
        state = self._state
        if state is not None and any(s is not None and s.countdown_deadline is not None for s in (state, self._peer)):
            self.diagram.set_picture(build_picture(state, self._peer))

    async def _confirm(self, title: str, text: str) -> bool:
        return await self.confirm(title, text)

    @property
    def settings(self) -> SettingsForm:
        """The settings form of the selected appliance."""
        form = self.settings_stack.currentWidget()
        assert isinstance(form, SettingsForm)
        return form

    def _form_for(self, state: ApplianceState) -> SettingsForm:
        form = self._forms.get(state.id)
        if form is None:
            form = self._forms[state.id] = SettingsForm(self._fleet, confirm=self._confirm)
            self.settings_stack.addWidget(form)
        return form

    def _show_settings_form(self, form: SettingsForm) -> None:
        self.settings_stack.setCurrentWidget(form)

    def unapplied_settings(self) -> list[str]:
        """Names of the appliances whose settings form holds changes not applied (asked about at quit)."""
        return [self._fleet.states[i].name for i, f in self._forms.items()
                if i in self._fleet.states and f.is_dirty()]

    def set_appliance(self, appliance_id: str | None) -> None:
        self._subs.clear()
        self._state = self._fleet.states.get(appliance_id) if appliance_id else None
        self.break_op.bind(self._fleet.commands(self._state.id).breaking if self._state else None)
        self._peer = self._fleet.peer_of(appliance_id) if appliance_id else None
        for s in (self._state, self._peer):
            if s is not None:
                self._subs.add(s.changed, self._on_changed)
        self.break_result.setText("")
        show_error(self.break_error, None)
        self.refresh_view()

    def _on_changed(self, what: str) -> None:
        if what in ("health", "relationship") and self._state is not None:
            peer = self._fleet.peer_of(self._state.id)
            if peer is not self._peer:
                self.set_appliance(self._state.id)
                return
        self.refresh_view()

    def refresh_view(self) -> None:
        state = self._state
        has = state is not None
        self.empty.setVisible(not has)
        for w in (self.diagram, self.sync, self.settings_stack, self.break_box, self.readiness_box,
                  self.status_title, self.settings_title):
            w.setVisible(has)
        if state is None:
            self._show_settings_form(self._blank_settings)
            self.actions_title.hide()
            self.establish_box.hide()
            self.takeover.hide()
            self.handover.hide()
            return
        peer = self._peer
        self.diagram.set_picture(build_picture(state, peer))
        health = state.health
        established = health is not None and health.relationship_established
        # A backup shows only what makes sense on a backup: no establish form.
        self.establish_box.setVisible(health is not None and not established and state.role != Role.BACKUP)
        self.establish.set_primary(state)
        watcher = peer if state.role == Role.PRIMARY and peer is not None else state
        self.sync.setVisible(established)
        self.sync.show_state(state, watcher)
        self.takeover.show_state(state)
        self.handover.show_state(state)
        form = self._form_for(state)
        self._show_settings_form(form)
        form.show_state(state)

        self.readiness_box.setVisible(established)
        if established:
            self.readiness.show_readiness(check_readiness(state, peer))
        self.break_box.setVisible(established)
        self._render_break()
        self.actions_title.setVisible(any(not w.isHidden() for w in (self.establish_box, self.handover,
                                                                       self.break_box)))

    async def break_warning(self) -> str:
        state = self._state
        assert state is not None
        peer = self._peer
        backup = state if state.role == Role.BACKUP else peer
        peer_name = state.health.peer.name if state.health and state.health.peer else "the other appliance"
        lines = [
            f"Both {state.name} and {peer.name if peer else peer_name} return to standalone; "
            "synchronisation and failover stop."
        ]
        if backup is not None:
            what = "all the site data it received by synchronisation"
            digest = await self._fleet.commands(backup.id).site_digest()
            if digest is not None:
                what = (
                    f"its synchronised site data: {digest.sessions:,} sessions and {digest.recordings:,} "
                    f"recordings ({human_bytes(digest.recording_bytes)})"
                )
            lines.append(f"On the backup {backup.name}, {what} will be DELETED.")
        else:
            lines.append(f"On the backup ({peer_name}), all the site data it received by synchronisation is DELETED.")
        lines.append("The primary keeps its data. This cannot be undone.")
        return "\n\n".join(lines)

    @async_slot
    async def on_break(self) -> None:
        state = self._state
        if state is None or self.break_op.busy:
            return
        text = await self.break_warning()
        if not await self.confirm("Break Failover Relationships?", text):
            return
        await self._fleet.commands(state.id).break_relationship()
