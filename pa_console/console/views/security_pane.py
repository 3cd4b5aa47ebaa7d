"""The Security pane: both appliances' Inter-Appliance keys compared by fingerprint; make them the same."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QFormLayout, QGridLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from pa_console.console.fingerprints import same_fingerprint, wrapped_fingerprint
from pa_console.console.services.fleet import Fleet
from pa_console.console.state.appliance import ApplianceState
from pa_console.console.state.status import ConnectionStatus
from pa_console.console.views.asyncslot import async_slot
from pa_console.console.views.widgets import (
    Confirmer,
    OperationView,
    Subscriptions,
    button,
    default_confirmer,
    error_label,
    hint_label,
    monospace,
    set_role,
    show_error,
)


class SecurityPane(QWidget):
    def __init__(self, fleet: Fleet, parent: QWidget | None = None, *, confirm: Confirmer | None = None) -> None:
        super().__init__(parent)
        self._fleet = fleet
        self._state: ApplianceState | None = None
        self._other: ApplianceState | None = None
        self._subs = Subscriptions(self)
        self._state_subs = Subscriptions(self)
        self.confirm = confirm or default_confirmer(self)
        self.setAccessibleName("Security")
        self.other_pick = QComboBox()
        self.other_pick.setAccessibleName("Compare with appliance")
        self.this_name = QLabel()
        self.other_name = QLabel()
        self.this_fp = QLabel()
        self.other_fp = QLabel()
        for label, name in (
            (self.this_fp, "This appliance's key fingerprint"),
            (self.other_fp, "Other key fingerprint"),
        ):
            label.setFont(monospace())
            label.setWordWrap(True)
            label.setAccessibleName(name)
        self.verdict = QLabel()
        self.verdict.setAccessibleName("Key comparison")
        self.verdict.setWordWrap(True)
        self.apply_button = button("&Generate a new key here and apply it to the other", "Generate and apply key")
        self.result = hint_label("", "Key change result")
        self.error = error_label("Key error")
        self.op = OperationView(self, self.error, self.result, self._render_button)
        box = QGroupBox("Inter-Appliance keys")
        grid = QGridLayout(box)
        grid.addWidget(self.this_name, 0, 0)
        grid.addWidget(self.other_name, 0, 1)
        grid.addWidget(self.this_fp, 1, 0)
        grid.addWidget(self.other_fp, 1, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        pick = QFormLayout()
        pick.addRow("Compare with:", self.other_pick)
        layout = QVBoxLayout(self)
        layout.addWidget(
            hint_label(
                "The two appliances of a pair prove to each other that they hold the same "
                "Inter-Appliance key; the key itself never leaves them. Only fingerprints are shown here.",
                "About keys",
            )
        )
        layout.addLayout(pick)
        layout.addWidget(box)
        layout.addWidget(self.verdict)
        layout.addWidget(self.apply_button)
        layout.addWidget(self.result)
        layout.addWidget(self.error)
        layout.addStretch(1)
        self.other_pick.activated.connect(self._picked)
        self.apply_button.clicked.connect(self.generate_and_apply)
        self._subs.add(fleet.changed, self._fleet_changed)
        self.set_appliance(None)

    def _fleet_changed(self, _: None) -> None:
        self.set_appliance(self._state.id if self._state else None)

    def set_appliance(self, appliance_id: str | None) -> None:
        state = self._fleet.states.get(appliance_id) if appliance_id else None
        other = self._fleet.peer_of(appliance_id) if appliance_id else None
        if state is self._state and self._other is not None and self._other.id in self._fleet.states:
            other = self._other  # keep the user's choice
        self._watch(state, other)
        self.other_pick.clear()
        for s in self._fleet.states.values():
            if s is not state:
                self.other_pick.addItem(f"{s.name} ({s.ref.address})", s.id)
        if other is not None:
            self.other_pick.setCurrentIndex(self.other_pick.findData(other.id))
        self.result.setText("")
        show_error(self.error, None)
        self.refresh_view()

    def _watch(self, state: ApplianceState | None, other: ApplianceState | None) -> None:
        self._state_subs.clear()
        self._state, self._other = state, other
        for s in (state, other):
            if s is not None:
                self._state_subs.add(s.changed, self._on_changed)

    def _picked(self, index: int) -> None:
        appliance_id = self.other_pick.itemData(index)
        self._watch(self._state, self._fleet.states.get(str(appliance_id)) if appliance_id else None)
        self.refresh_view()

    def _on_changed(self, what: str) -> None:
        if what in ("key", "health", "status"):
            self.refresh_view()

    def keys_match(self) -> bool | None:
        a, b = self._state, self._other
        if a is None or b is None or not a.key_fingerprint or not b.key_fingerprint:
            return None
        return same_fingerprint(a.key_fingerprint, b.key_fingerprint)

    def refresh_view(self) -> None:
        a, b = self._state, self._other
        self.this_name.setText(a.name if a else "(no appliance selected)")
        self.other_name.setText(b.name if b else "(choose an appliance to compare)")
        self.this_fp.setText(wrapped_fingerprint(a.key_fingerprint) if a and a.key_fingerprint else "unknown")
        self.other_fp.setText(wrapped_fingerprint(b.key_fingerprint) if b and b.key_fingerprint else "unknown")
        match = self.keys_match()
        gone = next((x for x in (a, b) if x is not None and x.status != ConnectionStatus.ONLINE), None)
        if gone is not None:
            # Fingerprints read before the console lost it: said as what they were, not as the present.
            then = {True: " When last read, the keys matched.", False: " When last read, the keys differed.",
                    None: ""}[match]
            self.verdict.setText(f"{gone.name} {gone.status.phrase}: its key cannot be read now.{then}")
            set_role(self.verdict, "hint")
            match = None
        elif match is True:
            self.verdict.setText("✔ MATCH: both appliances hold the same Inter-Appliance key.")
            set_role(self.verdict, "hint")
        elif match is False:
            self.verdict.setText(
                "✘ MISMATCH: the keys differ. The pair cannot be established, sync or fail over until they match."
            )
            set_role(self.verdict, "error")
        else:
            self.verdict.setText("The keys cannot be compared yet.")
            set_role(self.verdict, "hint")
        if a is not None and b is not None and match is not None:
            self._fleet.notifier.keys_compared(f"{a.name} ⇄ {b.name}", match)
        self.op.bind(self._fleet.commands(a.id).keys if a is not None else None)
        self._render_button()
        if a is not None and b is not None:
            self.apply_button.setText(f"&Generate a new key on {a.name} and apply it to {b.name}")

    def _render_button(self) -> None:
        a, b = self._state, self._other
        # Both must answer: a key made on one and not set on the other would leave the pair unable to talk.
        answer = a is not None and b is not None and all(x.status == ConnectionStatus.ONLINE for x in (a, b))
        self.apply_button.setEnabled(answer and not self.op.busy)

    @async_slot
    async def generate_and_apply(self) -> None:
        a, b = self._state, self._other
        if a is None or b is None or self.op.busy:
            return
        related = a.health is not None and a.health.relationship_established
        warning = (
            f"A new random Inter-Appliance key is made on {a.name} and set on {b.name} through the API; "
            "you never see or copy it. The old key stops working on both."
        )
        if related:
            warning += " They are in a relationship: until both hold the new key, they cannot talk to each other."
        if not await self.confirm("Replace the Inter-Appliance key?", warning):
            return
        await self._fleet.commands(a.id).rotate_keys(b.id)  # the key itself is kept nowhere in the console
