"""The main window: appliances on the left (pairs as pairs), the panes of the selected one on the right."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from pa_console.console.services.fleet import Fleet
from pa_console.console.views.add_dialog import AddApplianceDialog
from pa_console.console.views.appliance_list import ApplianceListView
from pa_console.console.views.asyncslot import async_slot
from pa_console.console.views.banner import Banner, BannerSink
from pa_console.console.views.email_pane import EmailPane
from pa_console.console.views.failover_pane import FailoverPane
from pa_console.console.views.security_pane import SecurityPane
from pa_console.console.views.theme import app_icon, apply_theme
from pa_console.console.views.timeline_pane import TimelinePane
from pa_console.console.views.widgets import (
    Confirmer,
    Subscriptions,
    default_confirmer,
    keep_focus_off_destructive_buttons,
    no_wheel_edits,
)
from pa_console.protocol.constants import PRODUCT_VERSION
from pa_console.protocol.models import Role


class MainWindow(QMainWindow):
    """Given its services; does no I/O itself. Emits `closed` when the user closes it."""

    closed = Signal()

    def __init__(self, fleet: Fleet, *, confirm: Confirmer | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fleet = fleet
        self.confirm = confirm or default_confirmer(self)
        self._selected: str | None = None
        self.add_dialog: AddApplianceDialog | None = None
        self._quit_confirmed = False
        self.setWindowTitle("PA Console")
        self.setWindowIcon(app_icon())
        self.setAccessibleName("PA Console")

        self.banner = Banner(fleet.banners)
        fleet.notifier.add_sink(BannerSink(self.banner))
        self._subs = Subscriptions(self)
        self._state_subs = Subscriptions(self)
        self._subs.add(fleet.problem, self.banner.show_text)
        self.appliances = ApplianceListView(fleet)
        self.failover = FailoverPane(fleet, confirm=self._confirm)
        self.security = SecurityPane(fleet, confirm=self._confirm)
        self.email = EmailPane(fleet)
        self.timeline = TimelinePane(fleet)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Panes")
        self.tabs.addTab(self.failover, "&Failover")
        self.tabs.addTab(self.security, "Se&curity")
        self.tabs.addTab(self.email, "E&mail")
        self.tabs.addTab(self.timeline, "T&imeline")
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.appliances)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(1, 3)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)
        self.status_label = QLabel()
        self.status_label.setAccessibleName("Connection status")
        self.statusBar().addWidget(self.status_label, 1)

        toolbar = QToolBar("Appliances")
        toolbar.setObjectName("appliances-toolbar")
        self.addToolBar(toolbar)
        self.add_action = QAction("&Add appliance…", self)
        self.add_action.setShortcut(QKeySequence.StandardKey.New)
        self.add_action.triggered.connect(self.open_add_dialog)
        self.remove_action = QAction("&Remove appliance", self)
        self.remove_action.setShortcut(QKeySequence.StandardKey.Delete)
        self.remove_action.triggered.connect(self.remove_selected)
        self.remove_action.setEnabled(False)
        # Delete removes only when the list has the focus, never while typing in a form.
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.appliances.addAction(self.remove_action)
        toolbar.addAction(self.add_action)
        toolbar.addAction(self.remove_action)
        toolbar.addSeparator()
        self.dark_action = QAction("&Dark theme", self)
        self.dark_action.setCheckable(True)
        self.dark_action.setChecked(fleet.settings.theme == "dark")
        self.dark_action.toggled.connect(self.set_dark)
        toolbar.addAction(self.dark_action)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.quit)
        self.about_action = QAction("&About PA Console", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        self.about_box: QMessageBox | None = None
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addAction(self.add_action)
        file_menu.addAction(self.remove_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = menus.addMenu("&View")
        for index in range(4):
            action = QAction(self.tabs.tabText(index).replace("&", ""), self)
            action.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
            action.triggered.connect(lambda _=False, i=index: self.tabs.setCurrentIndex(i))
            view_menu.addAction(action)
            self.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.dark_action)
        help_menu = menus.addMenu("&Help")
        help_menu.addAction(self.about_action)
        self.menus = {"file": file_menu, "view": view_menu, "help": help_menu}
        keep_focus_off_destructive_buttons()
        no_wheel_edits(self)  # every spin and combo box of the panes (settings forms made later do it themselves)

        self.appliances.selected.connect(self.select)
        self._subs.add(fleet.changed, self._fleet_changed)
        self.resize(self.fontMetrics().height() * 80, self.fontMetrics().height() * 50)
        self._fleet_changed(None)

    async def _confirm(self, title: str, text: str) -> bool:
        return await self.confirm(title, text)

    def _fleet_changed(self, _: None) -> None:
        if self._selected not in self.fleet.states:
            first = next(iter(self.fleet.states), None)
            if first is not None:
                self.appliances.select(first)
            else:
                self.select("")

    def select(self, appliance_id: str) -> None:
        self._state_subs.clear()
        self._selected = appliance_id or None
        for pane in (self.failover, self.security, self.email):
            pane.set_appliance(self._selected)
        state = self.fleet.states.get(appliance_id) if appliance_id else None
        if state is not None:
            self._state_subs.add(state.changed, self._selected_changed)
        self.remove_action.setEnabled(state is not None)
        self._selected_changed("health")

    def _selected_changed(self, what: str) -> None:
        state = self.fleet.states.get(self._selected) if self._selected else None
        # A backup shows only what makes sense there: no Email pane to edit.
        self.tabs.setTabVisible(self.tabs.indexOf(self.email), state is None or state.role != Role.BACKUP)
        if state is None:
            self.status_label.setText("Add an appliance to begin (Ctrl+N).")
        else:
            self.status_label.setText(f"{state.name} ({state.ref.address}): {state.status_detail}")

    def open_add_dialog(self) -> AddApplianceDialog:
        dialog = AddApplianceDialog(self.fleet, self)
        self.add_dialog = dialog

        def done(result: int) -> None:
            if dialog.added_id:
                self.appliances.select(dialog.added_id)

        dialog.finished.connect(done)
        dialog.open()
        return dialog

    @async_slot
    async def remove_selected(self) -> None:
        state = self.fleet.states.get(self._selected) if self._selected else None
        if state is None:
            return
        if not await self.confirm(
            "Remove appliance?",
            f"{state.name} ({state.ref.address}) is removed from this console with its stored token and "
            "trusted certificate. The appliance itself is not changed.",
        ):
            return
        await self.fleet.remove_appliance(state.id)

    @async_slot
    async def set_dark(self, dark: bool) -> None:
        """Switch the palette now and remember the choice in the settings file."""
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, "dark" if dark else "light")
        self.fleet.settings.theme = "dark" if dark else "light"
        try:
            await self.fleet.settings_store.asave(self.fleet.settings)
        except OSError as exc:
            self.banner.show_text(f"The theme could not be saved: {exc}")

    def quit(self) -> None:
        """File > Quit (Ctrl+Q): close the window, which ends the program (the tray has no life of its own)."""
        self.close()

    def show_about(self) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.NoIcon, "About PA Console",
                          f"<b>PA Console</b> {PRODUCT_VERSION}<br>Watches and drives pa-agent appliances: "
                          "failover pairs, synchronisation, keys and alerts.", QMessageBox.StandardButton.Ok, self)
        box.setIconPixmap(app_icon().pixmap(64, 64))
        box.setAccessibleName("About PA Console")
        box.open()
        self.about_box = box
        return box

    def closeEvent(self, event: QCloseEvent) -> None:
        unapplied = self.failover.unapplied_settings()
        if unapplied and not self._quit_confirmed:
            event.ignore()  # ask first, without blocking the event loop
            self._ask_before_closing(unapplied)
            return
        self.closed.emit()
        super().closeEvent(event)

    @async_slot
    async def _ask_before_closing(self, names: list[str]) -> None:
        if await self.confirm("Quit without applying?", "The failover settings of " + ", ".join(names)
                              + " have changes that were not applied. Quit anyway and lose them?"):
            self._quit_confirmed = True
            self.close()
