"""Notification sinks: the system tray, and the freedesktop notification service over D-Bus (jeepney)."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from PySide6.QtWidgets import QSystemTrayIcon

from pa_console.console.state.notifier import Notice, Urgency

log = logging.getLogger(__name__)


class TraySink:
    """QSystemTrayIcon.showMessage; a silent no-op where there is no tray (offscreen, bare X)."""

    def __init__(self, tray: QSystemTrayIcon | None) -> None:
        self.tray = tray

    def show(self, notice: Notice) -> None:
        if self.tray is None or not QSystemTrayIcon.isSystemTrayAvailable():
            return
        icon = {
            Urgency.INFO: QSystemTrayIcon.MessageIcon.Information,
            Urgency.WARNING: QSystemTrayIcon.MessageIcon.Warning,
            Urgency.CRITICAL: QSystemTrayIcon.MessageIcon.Critical,
        }[notice.urgency]
        self.tray.showMessage(notice.title, notice.body, icon, 10_000)


class DesktopSink:
    """org.freedesktop.Notifications.Notify through jeepney's asyncio API, when a session bus exists."""

    URGENCY = {Urgency.INFO: 0, Urgency.WARNING: 1, Urgency.CRITICAL: 2}

    def __init__(self, app_name: str = "PA Console") -> None:
        self.app_name = app_name
        self._router: Any = None
        self._conn: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.available = bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS"))
        self.sent: list[int] = []

    def show(self, notice: Notice) -> None:
        if not self.available:
            return
        task = asyncio.get_event_loop().create_task(self._send(notice))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, notice: Notice) -> None:
        try:
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
            hints = {"urgency": ("y", self.URGENCY[notice.urgency])}
            message = new_method_call(
                address,
                "Notify",
                "susssasa{sv}i",
                (self.app_name, 0, "dialog-warning", notice.title, notice.body, [], hints, -1),
            )
            reply = await asyncio.wait_for(self._router.send_and_get_reply(message), 5)
            if reply.body:
                self.sent.append(int(reply.body[0]))
        except Exception as exc:  # no notification service: the banner and tray still tell
            log.info("desktop notification not shown: %s", exc)
            self.available = False

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._conn is not None:
            try:
                await self._conn.__aexit__(None, None, None)
            except Exception as exc:
                log.debug("closing the D-Bus connection: %s", exc)
            self._conn = self._router = None
