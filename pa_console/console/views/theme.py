"""Light and dark palettes (from the shared resources when present) and status icons."""

from __future__ import annotations

import logging
from functools import cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QApplication

from pa_console.console.state.status import ConnectionStatus, LinkState

log = logging.getLogger(__name__)

STATUS_COLOURS = {
    "online": "#2E8B57",
    "connecting": "#9AA3AE",
    "offline": "#C0392B",
    "tls-problem": "#D35400",
    "auth-problem": "#D35400",
    "in-sync": "#2E8B57",
    "syncing": "#2F6FDE",
    "behind": "#D4A017",
    "broken": "#C0392B",
    "primary-lost": "#C0392B",
    "ok": "#2E8B57",
    "warning": "#D4A017",
    "error": "#C0392B",
}

ICON_OF_STATUS = {
    ConnectionStatus.ONLINE: "online",
    ConnectionStatus.CONNECTING: "connecting",
    ConnectionStatus.OFFLINE: "offline",
    ConnectionStatus.TLS_PROBLEM: "tls-problem",
    ConnectionStatus.AUTH_PROBLEM: "auth-problem",
}

ICON_OF_LINK = {
    LinkState.IN_SYNC: "in-sync",
    LinkState.SYNCING: "syncing",
    LinkState.BEHIND: "behind",
    LinkState.BROKEN: "broken",
    LinkState.PRIMARY_LOST: "primary-lost",
}


def resolve_theme(theme: str) -> str:
    if theme in ("light", "dark"):
        return theme
    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hints is not None else Qt.ColorScheme.Unknown
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"


def apply_theme(app: QApplication, theme: str) -> str:
    """Apply the light or dark style sheet; without the resources the platform style stays."""
    chosen = resolve_theme(theme)
    try:
        from pa_console import resources

        app.setStyleSheet(resources.style_sheet("dark" if chosen == "dark" else "light"))
    except Exception as exc:  # resources missing or broken: the console still works
        log.warning("no style sheet for %s: %s", chosen, exc)
    return chosen


@cache
def status_icon(name: str) -> QIcon:
    """A status icon from the resources, or a plain coloured dot when they are missing."""
    try:
        from pa_console import resources

        path = resources.icon_path(name)
        icon = QIcon(str(path))
        if not icon.isNull():
            return icon
    except Exception as exc:
        log.debug("no icon %s: %s", name, exc)
    pixmap = QPixmap(32, 32)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(STATUS_COLOURS.get(name, "#9AA3AE")))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(4, 4, 24, 24)
    painter.end()
    return QIcon(pixmap)


def app_icon() -> QIcon:
    try:
        from pa_console import resources

        return QIcon(str(resources.icon_path(resources.APP_ICON)))
    except Exception:
        return QIcon()
