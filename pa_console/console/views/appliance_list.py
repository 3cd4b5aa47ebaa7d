"""The appliance list: pairs as pairs, each appliance with its connection state at a glance."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from pa_console.console.services.fleet import Fleet
from pa_console.console.state.appliance import ApplianceState
from pa_console.console.state.picture import build_picture
from pa_console.console.views.theme import ICON_OF_LINK, ICON_OF_STATUS, status_icon
from pa_console.console.views.widgets import Subscriptions

ID_ROLE = Qt.ItemDataRole.UserRole


PAIR_ROLE = Qt.ItemDataRole.UserRole + 1


class PairRowDelegate(QStyledItemDelegate):
    """A pair's row spans the list's width and reads "title" over its state, wrapped, never cut: the overview's most
    important words ("Primary lost · manual failover needed (automatic failover is off)") read "Primary .." in a
    narrow status column. Appliance rows are drawn as usual."""

    def __init__(self, view: QTreeWidget) -> None:
        super().__init__(view)
        self._view = view

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        if index.data(PAIR_ROLE):
            status = index.model().index(index.row(), 2, index.parent())
            state = status.data(Qt.ItemDataRole.DisplayRole) or ""
            # U+2028: item views draw a line separator as a new line (a plain newline is dropped).
            option.text = f"{option.text}\u2028{state}" if state else option.text
            option.features |= QStyleOptionViewItem.ViewItemFeature.WrapText
            option.textElideMode = Qt.TextElideMode.ElideNone
            icon = status.data(Qt.ItemDataRole.DecorationRole)
            if icon is not None:
                option.icon = icon
                option.features |= QStyleOptionViewItem.ViewItemFeature.HasDecoration

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        base = super().sizeHint(option, index)
        if not index.data(PAIR_ROLE):
            return base
        indent = self._view.indentation()
        width = max(50, self._view.viewport().width() - indent)
        wrapped = QStyleOptionViewItem(option)
        self.initStyleOption(wrapped, index)
        wrapped.rect = QRect(0, 0, width, 10_000)
        text_rect = self._view.style().subElementRect(QStyle.SubElement.SE_ItemViewItemText, wrapped, self._view)
        needed = wrapped.fontMetrics.boundingRect(QRect(0, 0, max(1, text_rect.width() - 8), 10_000),
                                                  int(Qt.TextFlag.TextWordWrap), wrapped.text).height()
        # No width of its own: the name column sizes to the appliances' names, the pair row spans them all.
        return QSize(0, max(base.height(), needed + 6))


class ApplianceListView(QTreeWidget):
    """Emits `selected(appliance_id)` when the user picks an appliance."""

    selected = Signal(str)

    def __init__(self, fleet: Fleet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fleet = fleet
        self._items: dict[str, QTreeWidgetItem] = {}
        self._pairs: dict[str, tuple[QTreeWidgetItem, ApplianceState, ApplianceState]] = {}
        self._watched: set[str] = set()
        self.setHeaderLabels(["Appliance", "Role", "Status"])
        self.setAccessibleName("Appliances")
        self.setRootIsDecorated(True)
        self.setUniformRowHeights(False)  # a pair's state may take more lines (wrapped, never cut)
        # Columns that fit: the name takes the room left, role and status their contents (no "Rol", "Onlin").
        # The name and role as wide as they are; the status takes the rest and is elided (whole in its tooltip),
        # so no permanent scroll bar and no "Rol", "Onlin".
        header = self.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setItemDelegateForColumn(0, PairRowDelegate(self))
        # Room for "appliance-a ⇄ appliance-b", "primary (last known)" and a short status side by side.
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("x") * 60)
        self.itemSelectionChanged.connect(self._on_selection)
        self._subs = Subscriptions(self)
        self._subs.add(fleet.changed, self._on_fleet_changed)
        self.clock = QTimer(self)  # a pair's countdown moves on between the agent's ticks
        self.clock.setInterval(1000)
        self.clock.timeout.connect(self._tick)
        self.clock.start()
        self.rebuild()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.scheduleDelayedItemsLayout()  # a pair row's wrapped height follows the list's width

    def _tick(self) -> None:
        for _item, primary, backup in set(self._pairs.values()):
            if backup.countdown_deadline is not None or primary.countdown_deadline is not None:
                self._fill_pair(primary.id)

    def _on_fleet_changed(self, _: None) -> None:
        self.rebuild()

    def rebuild(self) -> None:
        current = self.current_id()
        self.blockSignals(True)
        self.clear()
        self._items.clear()
        self._pairs.clear()
        for group in self._fleet.groups():
            parent: QTreeWidget | QTreeWidgetItem = self
            if group.is_pair:
                primary, backup = group.members
                pair_item = QTreeWidgetItem(self, [group.title, "pair", ""])
                pair_item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                pair_item.setData(0, PAIR_ROLE, True)
                pair_item.setFirstColumnSpanned(True)
                self._pairs[primary.id] = self._pairs[backup.id] = (pair_item, primary, backup)
                self._fill_pair(primary.id)
                parent = pair_item
            for state in group.members:
                item = QTreeWidgetItem(parent)
                item.setData(0, ID_ROLE, state.id)
                self._items[state.id] = item
                self._fill(state)
                self._watch(state)
            if isinstance(parent, QTreeWidgetItem):
                parent.setExpanded(True)
        self.blockSignals(False)
        if current in self._items:
            self.setCurrentItem(self._items[current])

    def _watch(self, state: ApplianceState) -> None:
        if state.id in self._watched:
            return
        self._watched.add(state.id)

        def on_change(what: str) -> None:
            self._on_state(state, what)

        self._subs.add(state.changed, on_change)

    def _on_state(self, state: ApplianceState, what: str) -> None:
        if what in ("status", "health", "sync", "countdown", "progress", "settings"):
            self._fill(state)
            self._fill_pair(state.id)

    def _fill_pair(self, appliance_id: str) -> None:
        if appliance_id not in self._pairs:
            return
        item, primary, backup = self._pairs[appliance_id]
        picture = build_picture(primary, backup)
        item.setText(2, picture.link_label)
        item.setToolTip(2, picture.link_label)
        icon = ICON_OF_LINK.get(picture.link)
        item.setIcon(2, status_icon(icon) if icon else status_icon("connecting"))
        item.setData(0, Qt.ItemDataRole.AccessibleTextRole, f"Pair {item.text(0)}: {picture.link_label}")

    def _fill(self, state: ApplianceState) -> None:
        item = self._items.get(state.id)
        if item is None:
            return
        item.setText(0, state.name)
        item.setText(1, state.role_label() if state.role else "?")
        item.setText(2, state.status.label)
        item.setIcon(0, status_icon(ICON_OF_STATUS[state.status]))
        item.setToolTip(0, f"{state.ref.address}\n{state.status_detail}")
        item.setToolTip(2, state.status_detail)
        item.setData(0, Qt.ItemDataRole.AccessibleTextRole, f"{state.name}, {state.status.label}")

    def current_id(self) -> str | None:
        item = self.currentItem()
        if item is None:
            return None
        value = item.data(0, ID_ROLE)
        return str(value) if value else None

    def select(self, appliance_id: str) -> None:
        item = self._items.get(appliance_id)
        if item is not None:
            self.setCurrentItem(item)

    def item_for(self, appliance_id: str) -> QTreeWidgetItem | None:
        return self._items.get(appliance_id)

    def _on_selection(self) -> None:
        appliance_id = self.current_id()
        if appliance_id:
            self.selected.emit(appliance_id)
