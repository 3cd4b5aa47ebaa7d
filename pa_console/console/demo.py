"""`pa-console --demo` (issue #6): the whole lab on one machine, the console connected to both appliances."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pa_console.console.secrets import TokenStore

if TYPE_CHECKING:
    from pa_console.console.services.fleet import Fleet
    from pa_console.console.views.demo_panel import DemoPanel
    from pa_console.console.views.main_window import MainWindow
    from pa_console.demo.controller import DemoController
    from pa_console.demo.lab import DemoLab

log = logging.getLogger(__name__)


class DemoTokenStore(TokenStore):
    """Demo tokens stay in memory: the demo must not leave entries in the user's real keyring."""

    def __init__(self) -> None:
        super().__init__("pa-console-demo")
        self._tokens: dict[str, str] = {}

    async def get(self, appliance_id: str) -> str | None:
        return self._tokens.get(appliance_id)

    async def set(self, appliance_id: str, token: str) -> None:
        self._tokens[appliance_id] = token

    async def problem(self) -> str | None:
        return None  # in memory: no keyring needed

    async def delete(self, appliance_id: str) -> None:
        self._tokens.pop(appliance_id, None)


@dataclass
class DemoSession:
    """What a script driving the demo (the README's screenshots) gets to work with."""

    window: MainWindow
    fleet: Fleet
    lab: DemoLab
    controller: DemoController
    panel: DemoPanel


DemoScript = Callable[[DemoSession], Awaitable[None]]


async def demo_main(args: argparse.Namespace, script: DemoScript | None = None) -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from pa_console.console.services.fleet import Fleet
    from pa_console.console.settings import SettingsStore
    from pa_console.console.state.notifier import Urgency
    from pa_console.console.views.demo_panel import DemoPanel
    from pa_console.console.views.main_window import MainWindow
    from pa_console.console.views.notify_sinks import DesktopSink
    from pa_console.console.views.theme import apply_theme
    from pa_console.demo.controller import DemoController
    from pa_console.demo.lab import DemoLab

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    lab = DemoLab()
    fleet = Fleet(SettingsStore(lab.base / "console-settings.json"), DemoTokenStore(), poll_interval=1.0)
    window = MainWindow(fleet)
    window.setWindowTitle("PA Console: demo lab")
    apply_theme(app, args.theme or "system")
    desktop = DesktopSink()
    fleet.notifier.add_sink(desktop)
    closed = asyncio.Event()
    window.closed.connect(closed.set)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, closed.set)
        except (NotImplementedError, RuntimeError):
            pass
    window.show()
    controller: DemoController | None = None
    try:

        def step(text: str) -> None:
            loop.call_soon_threadsafe(lambda: fleet.banners.post("demo", f"Starting the demo lab: {text}…",
                                                                 Urgency.INFO))

        print(f"pa-console demo: lab in {lab.base}", flush=True)
        await lab.start(step)
        await fleet.start()
        for appliance in (lab.primary, lab.backup):
            # Demo only: the certificates are trusted without asking, since the demo made them a moment ago.
            await fleet.add_appliance(appliance.host, appliance.port, appliance.token, appliance.cert_pem)
        def first_sync_done() -> bool:
            return any(s.health is not None and s.health.last_sync_at is not None for s in fleet.states.values())

        fleet.banners.post(
            "demo",
            f"Demo lab ready: {lab.primary.name} is primary, {lab.backup.name} its backup; the first sync starts in "
            "a few seconds. Use the Demo lab panel to stop the primary.",
            Urgency.INFO,
            until=first_sync_done,  # the message is no longer true once the first sync is done
        )
        controller = DemoController(lab)
        controller.start()
        panel = DemoPanel(controller, window)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, panel)
        if script is not None:
            await script(DemoSession(window, fleet, lab, controller, panel))
            closed.set()
        if args.quit_after:
            loop.call_later(args.quit_after, closed.set)
        await closed.wait()
        if args.screenshot:
            window.grab().save(str(args.screenshot))
        for state in fleet.states.values():
            # What the console saw at the end, for scripted runs (and the demo's smoke test).
            last = state.health.last_sync_status if state.health else None
            print(f"pa-console demo: {state.name} {state.status.value} "
                  f"role={state.role.value if state.role else None} last_sync={last}", flush=True)
    except Exception as exc:
        log.exception("demo failed")
        print(f"pa-console: the demo could not start: {exc}", file=sys.stderr)
        return 1
    finally:
        window.hide()
        if controller is not None:
            await controller.stop()
        await fleet.aclose()
        await desktop.aclose()
        await lab.aclose()
    return 0


def run_demo(args: argparse.Namespace | None = None, script: DemoScript | None = None) -> int:
    """Start two agents, an SMTP sink and the console connected to both; stop them all on quit."""
    import qasync
    from PySide6.QtWidgets import QApplication

    if args is None:
        args = argparse.Namespace(theme=None, quit_after=None, screenshot=None)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("pa-console")
    app.setApplicationDisplayName("PA Console demo")
    return int(qasync.run(demo_main(args, script)))
