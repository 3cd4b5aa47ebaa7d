"""The tray icon and its menu: show the window, the state at a glance, quit."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from pa_console.console.services.fleet import Fleet
from pa_console.console.state.status import ConnectionStatus
from pa_console.console.views.main_window import MainWindow
from pa_console.console.views.theme import app_icon


def status_summary(fleet: Fleet) -> str:
    """One line for the tray: the most severe banner, else how many appliances answer."""
    lines = fleet.banners.lines()
    if lines:
        return lines[0].text
    states = list(fleet.states.values())
    if not states:
        return "No appliance added yet"
    online = sum(1 for s in states if s.status == ConnectionStatus.ONLINE)
    return f"All {online} appliances online" if online == len(states) else f"{online} of {len(states)} online"


class TrayMenu(QMenu):
    def __init__(self, window: MainWindow, fleet: Fleet) -> None:
        super().__init__("PA Console")
        self._window = window
        self._fleet = fleet
        self.show_action = QAction("&Show PA Console", self)
        self.show_action.triggered.connect(self.show_window)
        self.status_action = QAction("", self)
        self.status_action.setEnabled(False)  # information, not a command
        self.quit_action = QAction("&Quit", self)
        self.quit_action.triggered.connect(window.quit)
        self.addAction(self.show_action)
        self.addSeparator()
        self.addAction(self.status_action)
        self.addSeparator()
        self.addAction(self.quit_action)
        self.aboutToShow.connect(self.update_status)
        fleet.banners.changed.connect(lambda _: self.update_status())
        self.update_status()

    def update_status(self) -> None:
        text = status_summary(self._fleet)
        self.status_action.setText(text if len(text) <= 80 else text[:79] + "…")

    def show_window(self) -> None:
        self._window.showNormal()
        self._window.raise_()
        self._window.activateWindow()


def make_tray(window: MainWindow, fleet: Fleet) -> tuple[QSystemTrayIcon | None, TrayMenu]:
    """The tray icon where the desktop has a tray (the menu is built either way, for the tests and the dock)."""
    menu = TrayMenu(window, fleet)
    if not QSystemTrayIcon.isSystemTrayAvailable():
        return None, menu
    tray = QSystemTrayIcon(app_icon(), window)
    tray.setToolTip("PA Console")
    tray.setContextMenu(menu)
    tray.activated.connect(
        lambda reason: menu.show_window() if reason == QSystemTrayIcon.ActivationReason.Trigger else None)
    tray.show()
    return tray, menu
