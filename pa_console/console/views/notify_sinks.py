"""Notification sinks: the freedesktop notification service over D-Bus, else the system tray; never both.

Why not desktop-notifier (issue 15, point 7): its D-Bus backend (6.2.0) always sends `replaces_id` 0 and no custom
hints, so it can neither update one notification per incident in place nor name our desktop entry; it also needs
the server to answer Introspect. The freedesktop call is one method with eight arguments, made here through jeepney
(a maintained pure-Python D-Bus library that works on the qasync loop), with what the issue asks for:
- one notification per incident: a later notice of the same incident (countdown, manual failover needed, primary
  back, takeover) replaces the earlier one in place (`replaces_id`), it does not stack;
- urgency and icon by severity (`urgency` hint, `image-path` a themed icon), the app icon and `desktop-entry`;
- never twice: the tray's balloon is used only when no notification service answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from PySide6.QtWidgets import QSystemTrayIcon

from pa_console.console.state.notifier import Notice, Urgency

log = logging.getLogger(__name__)

DESKTOP_ENTRY = "pa-console"  # packaging/linux: pa-console.desktop
URGENCY = {Urgency.INFO: 0, Urgency.WARNING: 1, Urgency.CRITICAL: 2}
ICON = {Urgency.INFO: "dialog-information", Urgency.WARNING: "dialog-warning", Urgency.CRITICAL: "dialog-error"}
# Milliseconds a notice stays up; -1: the server decides (critical ones stay until dismissed, as the spec says).
EXPIRE = {Urgency.INFO: 10_000, Urgency.WARNING: -1, Urgency.CRITICAL: -1}


def _app_icon_path() -> str:
    try:
        from pa_console import resources

        return str(resources.icon_path(resources.APP_ICON).resolve())
    except Exception:
        return ""


class TraySink:
    """QSystemTrayIcon.showMessage; a silent no-op where there is no tray (offscreen, bare X)."""

    def __init__(self, tray: QSystemTrayIcon | None) -> None:
        self.tray = tray

    @property
    def available(self) -> bool:
        return self.tray is not None and QSystemTrayIcon.isSystemTrayAvailable()

    def show(self, notice: Notice) -> None:
        if self.tray is None or not self.available:
            return
        icon = {
            Urgency.INFO: QSystemTrayIcon.MessageIcon.Information,
            Urgency.WARNING: QSystemTrayIcon.MessageIcon.Warning,
            Urgency.CRITICAL: QSystemTrayIcon.MessageIcon.Critical,
        }[notice.urgency]
        self.tray.showMessage(notice.title, notice.body, icon, 10_000)


class DesktopSink:
    """org.freedesktop.Notifications.Notify, one notification per incident, updated in place."""

    def __init__(self, app_name: str = "PA Console", *, fallback: TraySink | None = None) -> None:
        self.app_name = app_name
        self.fallback = fallback
        self._router: Any = None
        self._conn: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._ids: dict[str, int] = {}  # incident -> the server's notification id
        self.available = bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS"))
        self.sent: list[int] = []
        self.app_icon = _app_icon_path()

    def show(self, notice: Notice) -> None:
        if not self.available:
            if self.fallback is not None:
                self.fallback.show(notice)
            return
        task = asyncio.get_event_loop().create_task(self._send(notice))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def incident_of(notice: Notice) -> str:
        return notice.incident or f"{notice.kind}/{notice.appliance}"

    async def _send(self, notice: Notice) -> None:
        # One at a time: the second notice of an incident must know the id the first one got.
        async with self._lock:
            try:
                notification_id = await self._notify(notice)
            except Exception as exc:  # no notification service: say it once in the log, then use the tray
                log.info("desktop notification not shown: %s", exc)
                self.available = False
                if self.fallback is not None:
                    self.fallback.show(notice)
                return
            self._ids[self.incident_of(notice)] = notification_id
            self.sent.append(notification_id)

    async def _notify(self, notice: Notice) -> int:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.asyncio import open_dbus_router

        if self._router is None:
            self._conn = open_dbus_router(bus="SESSION")
            self._router = await self._conn.__aenter__()
        address = DBusAddress(
            "/org/freedesktop/Notifications",
            bus_name="org.freedesktop.Notifications",
            interface="org.freedesktop.Notifications",
        )
        hints = {
            "urgency": ("y", URGENCY[notice.urgency]),
            "desktop-entry": ("s", DESKTOP_ENTRY),
            "image-path": ("s", ICON[notice.urgency]),
            "category": ("s", "device.error" if notice.urgency == Urgency.CRITICAL else "device"),
        }
        replaces = self._ids.get(self.incident_of(notice), 0)
        message = new_method_call(
            address,
            "Notify",
            "susssasa{sv}i",
            (self.app_name, replaces, self.app_icon, notice.title, notice.body, [], hints, EXPIRE[notice.urgency]),
        )
        reply = await asyncio.wait_for(self._router.send_and_get_reply(message), 5)
        return int(reply.body[0]) if reply.body else replaces

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._conn is not None:
            try:
                await self._conn.__aexit__(None, None, None)
            except Exception as exc:
                log.debug("closing the D-Bus connection: %s", exc)
            self._conn = self._router = None
