"""Desktop habits (issue 15, point 6): menus and Quit, the tray menu, the Add dialog, the keyring said plainly,
focus that never lands on a destructive button, readiness on Become Backup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtGui import QFontInfo, QKeySequence
from PySide6.QtWidgets import QPushButton, QVBoxLayout, QWidget

from pa_console.console.fingerprints import wrapped_fingerprint
from pa_console.console.secrets import TokenStore
from pa_console.console.services.fleet import Fleet
from pa_console.console.settings import SettingsStore
from pa_console.console.views.add_dialog import AddApplianceDialog
from pa_console.console.views.main_window import MainWindow
from pa_console.console.views.tray import TrayMenu
from pa_console.console.views.widgets import button, keep_focus_off_destructive_buttons
from pa_console.protocol.events import PrimaryLost
from tests.ui.fakes import fake_fleet
from tests.ui.fixtures import run
from tests.ui.test_failover_pane import Confirm, make_pane
from tests.unit.console.factories import event, pair

FINGERPRINT = "".join(f"{i:02x}" for i in range(32))


def _window(qtbot: Any, tmp_path: Path) -> tuple[MainWindow, Fleet, Any, Any, Confirm]:
    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    confirm = Confirm()
    window = MainWindow(fleet, confirm=confirm)
    qtbot.addWidget(window)
    window.show()
    return window, fleet, primary, backup, confirm


def test_menu_bar_and_quit(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    window, _, _, _, _ = _window(qtbot, tmp_path)
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles == ["&File", "&View", "&Help"]
    file_items = [a.text() for a in window.menus["file"].actions() if not a.isSeparator()]
    assert file_items == ["&Add appliance…", "&Remove appliance", "&Quit"]
    assert window.add_action.shortcut() == QKeySequence("Ctrl+N")
    assert window.quit_action.shortcut() == QKeySequence("Ctrl+Q")
    assert [a.text() for a in window.menus["help"].actions()] == ["&About PA Console"]
    about = window.show_about()
    assert "PA Console" in about.text()
    about.close()
    closed: list[bool] = []
    window.closed.connect(lambda: closed.append(True))
    window.quit_action.trigger()
    qtbot.waitUntil(lambda: closed == [True])
    assert not window.isVisible()


def test_quit_asks_before_losing_settings_not_applied(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    window, _, _, backup, confirm = _window(qtbot, tmp_path)
    window.appliances.select(backup.id)
    window.failover.settings.primary_timeout.setValue(99)
    confirm.answer = False
    window.quit()
    qtbot.waitUntil(lambda: len(confirm.asked) == 1)
    assert confirm.asked[0][0] == "Quit without applying?" and "beta" in confirm.asked[0][1]
    assert window.isVisible()
    confirm.answer = True
    window.quit()
    qtbot.waitUntil(lambda: not window.isVisible())


def test_tray_menu_shows_status_and_quits(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    window, fleet, _, backup, _ = _window(qtbot, tmp_path)
    menu = TrayMenu(window, fleet)
    assert [a.text() for a in menu.actions() if not a.isSeparator()] == [
        "&Show PA Console", "All 2 appliances online", "&Quit"]
    assert not menu.status_action.isEnabled()
    backup.apply_event(event(PrimaryLost(error="timed out", failover_in_s=20, action="await_manual_failover")))
    qtbot.waitUntil(lambda: menu.status_action.text().startswith("beta: Primary lost"))
    window.hide()
    menu.show_action.trigger()
    assert window.isVisible()
    menu.quit_action.trigger()
    qtbot.waitUntil(lambda: not window.isVisible())


def test_add_dialog_at_its_minimum_size_shows_the_whole_fingerprint(
    qtbot: Any, aloop: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = fake_fleet(tmp_path)

    async def probe(host: str, port: int) -> tuple[str, str]:
        return "PEM", FINGERPRINT

    async def no_keyring(*args: Any) -> Any:
        raise RuntimeError("There is no password store to keep the appliances' API tokens safe, so the console "
                           "cannot add or connect to appliances. Start your desktop's password store.")

    monkeypatch.setattr(fleet, "probe_certificate", probe)
    monkeypatch.setattr(fleet, "add_appliance", no_keyring)
    dialog = AddApplianceDialog(fleet)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.host, "appliance.example.com")
    qtbot.keyClicks(dialog.token, "x" * 43)
    dialog.fetch_button.click()
    qtbot.waitUntil(dialog.trust_box.isVisible)
    dialog.add_button.click()  # fails: a long error under the fingerprint must not squeeze it
    qtbot.waitUntil(dialog.error.isVisible)
    dialog.resize(1, 1)  # as small as the window manager may make it
    qtbot.waitUntil(lambda: dialog.size() == dialog.minimumSize())
    label = dialog.fingerprint
    for widget in (dialog.host, dialog.token, dialog.name, dialog.error):  # nothing squeezed
        need = widget.heightForWidth(widget.width()) if widget.hasHeightForWidth() else widget.sizeHint().height()
        assert widget.height() >= need, (widget.accessibleName(), widget.height(), need)
    assert label.text() == wrapped_fingerprint(FINGERPRINT)
    assert label.width() >= label.sizeHint().width() and label.height() >= label.sizeHint().height()
    assert QFontInfo(label.font()).fixedPitch()
    assert label.textInteractionFlags() & label.textInteractionFlags().TextSelectableByMouse
    for edit in (dialog.host, dialog.token, dialog.name):  # placeholders uncut
        assert edit.width() >= edit.fontMetrics().horizontalAdvance(edit.placeholderText())


def test_keyring_problem_said_at_start_in_plain_words(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        fleet = Fleet(SettingsStore(tmp_path / "settings.json"), TokenStore())
        run(aloop, qtbot, fleet.start())
    finally:
        keyring.set_keyring(previous)
    (line,) = fleet.banners.lines()
    assert line.text.startswith("There is no password store to keep the appliances' API tokens safe")
    assert "keyring.backends" not in line.text


def test_focus_never_lands_on_a_destructive_button(qtbot: Any, aloop: Any) -> None:
    keep_focus_off_destructive_buttons()
    host = QWidget()
    layout = QVBoxLayout(host)
    send: QPushButton = button("Send test email", "Send test email")
    stop: QPushButton = button("Stop appliance-a", "Stop appliance-a", "danger")
    layout.addWidget(send)
    layout.addWidget(stop)
    qtbot.addWidget(host)
    host.show()
    host.activateWindow()
    send.setFocus()
    qtbot.waitUntil(send.hasFocus)
    send.setEnabled(False)  # busy: Qt moves the focus on, to the next button in the tab order
    qtbot.wait(50)
    assert not stop.hasFocus()


def test_become_backup_shows_the_readiness(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    confirm = Confirm(answer=False)
    pane = make_pane(qtbot, fleet, confirm)
    pane.set_appliance(primary.id)
    pane.handover.become_backup.click()
    qtbot.waitUntil(lambda: len(confirm.asked) == 1)
    title, text = confirm.asked[0]
    assert title == "Become backup?" and "Readiness:" in text and "Automatic failover" in text


def test_tree_columns_fit_their_contents(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    window, _, primary, _, _ = _window(qtbot, tmp_path)
    window.resize(1200, 700)
    tree = window.appliances
    pair_item = tree.topLevelItem(0)
    rows = [pair_item, pair_item.child(0), pair_item.child(1)]
    qtbot.waitUntil(lambda: tree.columnWidth(0) > 0)
    for column in (0, 1):  # the name and the role are never cut ("Rol", "Onlin")
        needed = max(tree.fontMetrics().horizontalAdvance(row.text(column)) for row in rows)
        assert tree.columnWidth(column) >= needed, (column, tree.columnWidth(column), needed)
    assert not tree.horizontalScrollBar().isVisible()
    assert primary.role_label() == "primary"
