"""Security, Email and Timeline panes, the appliance list and the main window, over fake state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QWidget

from pa_console.console.client.errors import AgentError, ErrorCategory
from pa_console.console.state.status import ConnectionStatus
from pa_console.console.views.appliance_list import ApplianceListView
from pa_console.console.views.email_pane import EmailPane
from pa_console.console.views.main_window import MainWindow
from pa_console.console.views.security_pane import SecurityPane
from pa_console.console.views.theme import apply_theme
from pa_console.console.views.timeline_pane import TimelinePane
from pa_console.protocol.events import PrimaryLost, RelationshipEstablished, SyncFailed
from pa_console.protocol.models import EmailConfig, EmailTestResult, GeneratedKey, KeyFingerprint
from tests.ui.fakes import client, fake_fleet
from tests.ui.test_failover_pane import Confirm
from tests.unit.console.factories import STARTED, appliance, event, pair


def test_list_groups_pairs_and_shows_status(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    lone = appliance("gamma", 1003)
    fleet = fake_fleet(tmp_path, backup, lone, primary)
    view = ApplianceListView(fleet)
    qtbot.addWidget(view)
    assert view.topLevelItemCount() == 2
    pair_item = view.topLevelItem(0)
    assert pair_item.text(0) == "alpha ⇄ beta" and pair_item.text(2) == "In sync"
    assert [pair_item.child(i).text(0) for i in range(2)] == ["alpha", "beta"]
    assert view.topLevelItem(1).text(0) == "gamma"
    lone.set_status(ConnectionStatus.TLS_PROBLEM, "WARNING: a different certificate")
    item = view.item_for(lone.id)
    assert item is not None and item.text(2) == "Certificate problem"
    assert "different certificate" in item.toolTip(2)
    backup.apply_event(event(PrimaryLost()))
    assert pair_item.text(2).startswith("Primary lost")
    with qtbot.waitSignal(view.selected) as blocker:
        view.select(lone.id)
    assert blocker.args == [lone.id]


def test_security_pane_compares_and_applies_key(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    backup.set_key_fingerprint("bb" * 32)
    fleet = fake_fleet(tmp_path, primary, backup)
    confirm = Confirm()
    pane = SecurityPane(fleet, confirm=confirm)
    qtbot.addWidget(pane)
    pane.set_appliance(primary.id)
    assert pane.this_fp.text() == ":".join(["AA"] * 16) + ":\n" + ":".join(["AA"] * 16)
    assert pane.other_fp.text().replace("\n", "") == ":".join(["BB"] * 32)
    assert pane.verdict.text().startswith("✘ MISMATCH")
    a, b = client(fleet, primary), client(fleet, backup)
    a.answers["generate_key"] = GeneratedKey(key="cd" * 32, fingerprint="ee" * 32)
    b.answers["key_fingerprint"] = KeyFingerprint(fingerprint="EE" * 32)
    pane.apply_button.click()
    qtbot.waitUntil(lambda: pane.verdict.text().startswith("✔ MATCH"))
    assert b.called("set_key") == [("cd" * 32,)]
    assert "same new key" in pane.result.text()
    assert "relationship" in confirm.asked[0][1]


def test_security_pane_reports_refusal(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    pane = SecurityPane(fleet, confirm=Confirm())
    qtbot.addWidget(pane)
    pane.show()
    pane.set_appliance(primary.id)
    assert pane.verdict.text().startswith("✔ MATCH")
    client(fleet, primary).answers["generate_key"] = GeneratedKey(key="cd" * 32, fingerprint="ee" * 32)
    client(fleet, backup).answers["set_key"] = AgentError(ErrorCategory.REQUEST, "The key must be hex.")
    pane.apply_button.click()
    qtbot.waitUntil(lambda: pane.error.isVisible())
    assert "beta refused it: The key must be hex." in pane.error.text()


def test_email_pane_validates_saves_and_shows_server_answer(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    lone = appliance("alpha", 1001)
    lone.set_email(EmailConfig(host="smtp.example.com", port=25, sender="pa@example.com", password_set=True))
    fleet = fake_fleet(tmp_path, lone)
    pane = EmailPane(fleet)
    qtbot.addWidget(pane)
    pane.show()
    pane.set_appliance(lone.id)
    assert pane.host.text() == "smtp.example.com" and pane.password.text() == ""
    assert "A password is stored" in pane.password_state.text()
    api = client(fleet, lone)
    pane.recipients.setText("not-an-address")
    pane.save_button.click()
    qtbot.waitUntil(lambda: pane.error.isVisible())
    assert "not an email address" in pane.error.text() and api.called("update_email") == []
    pane.recipients.setText("admin@example.com; ops@example.com")
    saved = EmailConfig(host="smtp.example.com", sender="pa@example.com", recipients=["admin@example.com"])
    api.answers["update_email"] = saved
    api.answers["send_test_email"] = EmailTestResult(ok=True, code=250, message="2.0.0 Ok: queued")
    pane.test_button.click()  # the form differs from the appliance: it is saved first
    qtbot.waitUntil(lambda: "queued" in pane.answer.text())
    assert pane.answer.text() == "Sent. The SMTP server answered (250): 2.0.0 Ok: queued"
    (body,) = api.called("update_email")[0]
    assert body.recipients == ["admin@example.com", "ops@example.com"] and body.password is None


def test_email_pane_on_backup_is_read_only(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    backup.set_email(EmailConfig(host="smtp.example.com"))
    fleet = fake_fleet(tmp_path, primary, backup)
    pane = EmailPane(fleet)
    qtbot.addWidget(pane)
    pane.show()
    pane.set_appliance(backup.id)
    assert pane.backup_note.isVisible() and not pane.save_button.isEnabled() and not pane.host.isEnabled()


def test_timeline_pane_filters_and_exports(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    pane = TimelinePane(fleet)
    qtbot.addWidget(pane)
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    fleet.timeline.add(primary.id, [event(RelationshipEstablished(role="primary"), ts=t0, id=1)])
    failed = SyncFailed(started_at=STARTED, error="disk full")
    fleet.timeline.add(backup.id, [event(failed, ts=t0 + timedelta(seconds=1), id=1)])
    qtbot.waitUntil(lambda: pane.table.rowCount() == 2)
    assert pane.table.item(0, 1).text() == "beta" and pane.table.item(0, 3).text() == "Sync failed: disk full"
    pane.checks["sync"].setChecked(False)
    qtbot.waitUntil(lambda: pane.table.rowCount() == 1)
    assert pane.table.item(0, 2).text() == "relationship_established"
    target = tmp_path / "out.json"
    pane.export_to(target, "json")
    qtbot.waitUntil(lambda: "Saved 1 events" in pane.status.text())
    assert [r["type"] for r in json.loads(target.read_text())] == ["relationship_established"]


def test_main_window_hides_email_on_backup_and_shows_notices(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    window = MainWindow(fleet, confirm=Confirm())
    qtbot.addWidget(window)
    window.show()
    window.appliances.select(backup.id)
    assert not window.tabs.isTabVisible(window.tabs.indexOf(window.email))
    window.appliances.select(primary.id)
    assert window.tabs.isTabVisible(window.tabs.indexOf(window.email))
    assert "alpha (127.0.0.1:1001)" in window.status_label.text()
    backup.apply_event(event(PrimaryLost(error="connection refused", failover_in_s=30,
                                         action="await_manual_failover")))
    assert window.banner.isVisible()
    assert window.banner.label.text() == (
        "beta: Primary lost (connection refused) · manual failover needed (automatic failover is off)"
    )
    window.banner.rows[0].dismiss.click()
    assert not window.banner.isVisible()
    # Ctrl+2 opens the Security pane.
    (action,) = [a for a in window.actions() if a.shortcut() == QKeySequence("Ctrl+2")]
    action.trigger()
    assert window.tabs.currentWidget() is window.security


def test_every_control_has_an_accessible_name(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    window = MainWindow(fleet, confirm=Confirm())
    qtbot.addWidget(window)
    window.show()
    from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit

    unnamed = [
        w
        for w in window.findChildren(QWidget)
        if isinstance(w, QAbstractButton | QLineEdit | QAbstractSpinBox | QComboBox)
        and not w.accessibleName()
        and not (isinstance(w, QAbstractButton) and w.text())
        and w.parent() is not None
        and not type(w.parent()).__name__.startswith("QTabBar")
        and not w.objectName().startswith("qt_")
        and not (isinstance(w, QLineEdit) and isinstance(w.parent(), QAbstractSpinBox | QComboBox))
    ]
    assert [(type(w).__name__, w.objectName(), type(w.parent()).__name__) for w in unnamed] == []


def test_themes_apply(qtbot: Any, qapp: QApplication) -> None:
    assert apply_theme(qapp, "dark") == "dark"
    assert "QWidget" in qapp.styleSheet()
    assert apply_theme(qapp, "light") == "light"
    qapp.setStyleSheet("")


def _tab_chain(start: QWidget, count: int) -> list[QWidget]:
    chain: list[QWidget] = []
    widget = start
    while len(chain) < count:
        if widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.isVisibleTo(start.window()):
            if widget.focusProxy() is None:
                chain.append(widget)
        widget = widget.nextInFocusChain()
        if widget is start:
            break
    return chain


def test_add_dialog_keyboard_order_and_validation(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    from pa_console.console.views.add_dialog import AddApplianceDialog

    fleet = fake_fleet(tmp_path)
    dialog = AddApplianceDialog(fleet)
    qtbot.addWidget(dialog)
    dialog.show()
    chain = _tab_chain(dialog.host, 5)
    assert chain == [dialog.host, dialog.port, dialog.token, dialog.name, dialog.fetch_button]
    qtbot.keyClicks(dialog.host, "no such host!")
    assert dialog.host_error.isVisible() and not dialog.fetch_button.isEnabled()
    dialog.host.clear()
    qtbot.keyClicks(dialog.host, "appliance.example.com")
    qtbot.keyClicks(dialog.token, "t")
    assert not dialog.host_error.isVisible() and dialog.fetch_button.isEnabled()
    assert not dialog.add_button.isEnabled()  # nothing to trust before the certificate was fetched


def test_theme_switch_is_applied_and_remembered(qtbot: Any, aloop: Any, tmp_path: Path, qapp: QApplication) -> None:
    fleet = fake_fleet(tmp_path)
    window = MainWindow(fleet, confirm=Confirm())
    qtbot.addWidget(window)
    try:
        window.dark_action.setChecked(True)
        qtbot.waitUntil(lambda: fleet.settings_store.path.exists())
        assert json.loads(fleet.settings_store.path.read_text())["theme"] == "dark"
        from pa_console import resources

        assert qapp.styleSheet() == resources.style_sheet("dark")
    finally:
        qapp.setStyleSheet("")
