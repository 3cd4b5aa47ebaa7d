"""Small helpers shared by the panes: styled roles, field errors, confirmations that do not block."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QWidget,
)

from pa_console.console.services.commands import Operation
from pa_console.console.state.observable import Signal as StateSignal
from pa_console.protocol.models import is_valid_host

T = TypeVar("T")

# confirm(title, text) -> True when the user agreed. Panes take one; tests give their own.
Confirmer = Callable[[str, str], Awaitable[bool]]


def set_role(widget: QWidget, role: str) -> None:
    """Style variant from the theme's QSS (e.g. role="error" on a label, role="danger" on a button)."""
    if widget.property("role") == role:
        return
    widget.setProperty("role", role)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def set_invalid(edit: QWidget, invalid: bool) -> None:
    if bool(edit.property("invalid")) == invalid:
        return
    edit.setProperty("invalid", invalid)
    edit.style().unpolish(edit)
    edit.style().polish(edit)


def error_label(name: str) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setAccessibleName(name)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    set_role(label, "error")
    label.hide()
    return label


def show_error(label: QLabel, text: str | None) -> None:
    label.setText(text or "")
    label.setVisible(bool(text))


def hint_label(text: str, name: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAccessibleName(name)
    set_role(label, "hint")
    return label


def button(text: str, name: str, role: str | None = None) -> QPushButton:
    b = QPushButton(text)
    b.setAccessibleName(name)
    if role:
        set_role(b, role)
    return b


def line_edit(name: str, placeholder: str = "") -> QLineEdit:
    e = QLineEdit()
    e.setAccessibleName(name)
    e.setPlaceholderText(placeholder)
    return e


def port_box(name: str, value: int = 8443) -> QSpinBox:
    box = QSpinBox()
    box.setRange(1, 65535)
    box.setValue(value)
    box.setAccessibleName(name)
    return box


def host_problem(text: str) -> str | None:
    value = text.strip()
    if not value:
        return "Enter a host name or an IP address."
    if not is_valid_host(value):
        return f"“{value}” is not a host name or an IP address."
    return None


def monospace() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


async def message_box_confirm(parent: QWidget | None, title: str, text: str) -> bool:
    """Ask without blocking the event loop: an open() dialog and a future."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(text)
    box.setStandardButtons(QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setAccessibleName(title)
    future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def done(result: int) -> None:
        if not future.done():
            future.set_result(result == QMessageBox.StandardButton.Ok.value)

    box.finished.connect(done)
    box.open()
    try:
        return await future
    finally:
        box.deleteLater()


def default_confirmer(parent: QWidget) -> Confirmer:
    return lambda title, text: message_box_confirm(parent, title, text)


class Subscriptions:
    """Disconnects state-layer callbacks when told to, and at the latest when the owning widget is destroyed,
    so a state change never calls into a deleted widget."""

    def __init__(self, owner: QObject) -> None:
        self._offs: list[Callable[[], None]] = []
        owner.destroyed.connect(self.clear)

    def add(self, signal: StateSignal[T], callback: Callable[[T], None]) -> None:
        self._offs.append(signal.connect(callback))

    def clear(self, *_: object) -> None:
        offs, self._offs = self._offs, []
        for off in offs:
            off()


class _WheelGuard(QObject):
    """Swallows wheel events on a spin box or combo box without the focus: scrolling the pane never edits a value
    the user is not in (issue 15: a scroll changed a timeout from 300 to 291)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget) and not watched.hasFocus():
            parent = watched.parentWidget()
            if parent is not None:  # the pane scrolls as if the box were not there
                QCoreApplication.sendEvent(parent, event)
            return True
        return False


_GUARD: _WheelGuard | None = None


def no_wheel_edits(root: QWidget) -> None:
    """Every spin box and combo box under `root`: focus by click or Tab only, wheel only once focused."""
    global _GUARD
    if _GUARD is None:
        _GUARD = _WheelGuard()
    for box in [*root.findChildren(QAbstractSpinBox), *root.findChildren(QComboBox)]:
        box.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        box.installEventFilter(_GUARD)


_FOCUS_GUARDED = False


def keep_focus_off_destructive_buttons() -> None:
    """When the focused widget is disabled (a button while its work runs), Qt hands the focus to the next one in
    the tab order; if that is a destructive button (Stop, Break, Remove), a stray Enter would press it. Take the
    focus away from it instead. The user can still Tab or click to a destructive button on purpose."""
    global _FOCUS_GUARDED
    app = QApplication.instance()
    if _FOCUS_GUARDED or not isinstance(app, QApplication):
        return
    _FOCUS_GUARDED = True

    def moved(old: QWidget | None, new: QWidget | None) -> None:
        if (isinstance(new, QPushButton) and new.property("role") == "danger"
                and old is not None and shiboken6.isValid(old) and not old.isEnabled()):
            new.clearFocus()

    app.focusChanged.connect(moved)


class OperationView:
    """Binds a view to one operation of the commands service: its busy state, error and result, as they change.

    `render` is the view's own refresh (it reads `busy`); the error and result labels are kept here."""

    def __init__(self, owner: QObject, error: QLabel, result: QLabel | None, render: Callable[[], None]) -> None:
        self._subs = Subscriptions(owner)
        self._error = error
        self._result = result
        self._render = render
        self.operation: Operation | None = None

    @property
    def busy(self) -> bool:
        return self.operation is not None and self.operation.busy

    def bind(self, operation: Operation | None) -> None:
        if operation is self.operation:
            return
        self._subs.clear()
        self.operation = operation
        if operation is not None:
            self._subs.add(operation.changed, lambda _op: self._show())
        self._show()

    def _show(self) -> None:
        op = self.operation
        if not shiboken6.isValid(self._error):
            return
        show_error(self._error, op.error if op is not None else None)
        if self._result is not None:
            working = "Working…" if op is not None and op.busy else ""
            self._result.setText(op.result if op is not None and op.result else working)
        self._render()
