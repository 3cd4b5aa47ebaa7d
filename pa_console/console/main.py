"""`pa-console`: the desktop console's entry point (qasync runs asyncio inside Qt)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from pa_console import __version__


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pa-console", description="Set up, watch and operate PA appliance failover.")
    parser.add_argument("--version", action="version", version=f"pa-console {__version__}")
    parser.add_argument("--demo", action="store_true", help="start a demo lab: two agents, a mail sink, the console")
    parser.add_argument("--theme", choices=["system", "light", "dark"], default=None, help="colour theme")
    parser.add_argument("--settings", type=Path, default=None, help="settings file (default: the user config dir)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.add_argument(
        "--quit-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="quit by itself after SECONDS (scripted runs, smoke tests, screenshots)",
    )
    parser.add_argument(
        "--screenshot",
        type=Path,
        default=None,
        metavar="PNG",
        help="with --quit-after: save a picture of the main window just before quitting",
    )
    return parser.parse_args(argv)


async def run_console(args: argparse.Namespace) -> int:
    from PySide6.QtWidgets import QApplication

    from pa_console.console.secrets import TokenStore
    from pa_console.console.services.fleet import Fleet
    from pa_console.console.settings import SettingsStore
    from pa_console.console.views.main_window import MainWindow
    from pa_console.console.views.notify_sinks import DesktopSink, TraySink
    from pa_console.console.views.theme import apply_theme
    from pa_console.console.views.tray import make_tray

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    store = SettingsStore(args.settings)
    fleet = Fleet(store, TokenStore())
    window = MainWindow(fleet)
    closed = asyncio.Event()
    window.closed.connect(closed.set)
    tray, _tray_menu = make_tray(window, fleet)
    # Never twice: the desktop notification service when it answers, the tray's balloon only without one.
    desktop = DesktopSink(fallback=TraySink(tray))
    fleet.notifier.add_sink(desktop)
    try:
        await fleet.start()
    except Exception as exc:  # a broken settings file: say so, start empty
        window.banner.show_text(str(exc))
    apply_theme(app, args.theme or fleet.settings.theme)
    probe = None
    if os.environ.get("PA_CONSOLE_FIRST_PAINT_FILE"):
        from pa_console.console.views.first_paint import FirstPaintProbe

        probe = FirstPaintProbe(Path(os.environ["PA_CONSOLE_FIRST_PAINT_FILE"]), closed.set)
        window.installEventFilter(probe)
    window.show()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, closed.set)
        except (NotImplementedError, RuntimeError):
            pass
    if args.quit_after:
        loop.call_later(args.quit_after, closed.set)
    try:
        await closed.wait()
        if args.screenshot:
            window.grab().save(str(args.screenshot))
    finally:
        window.hide()
        await fleet.aclose()
        await desktop.aclose()
    return 0


def _configure_logging(verbose: bool) -> None:
    """To stderr, and to the platform's log folder (e.g. ~/.local/state/pa-console/log/console.log)."""
    import platformdirs

    handlers: list[logging.Handler] = [logging.StreamHandler()]
    try:
        folder = platformdirs.user_log_path("pa-console", ensure_exists=True)
        handlers.append(logging.FileHandler(folder / "console.log"))
    except OSError:
        pass  # a read-only home must not keep the console from starting
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=handlers,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers[0].setLevel(logging.DEBUG if verbose else logging.WARNING)
    for noisy in ("qasync", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    # PySide6 6.12's lazy class loading can call a null converter in paint code; load classes eagerly.
    os.environ.setdefault("PYSIDE6_OPTION_LAZY", "0")
    args = parse_args(argv)
    _configure_logging(args.verbose)
    from pa_console.console.bindings import check_bindings

    if problem := check_bindings():
        print(problem, file=sys.stderr)
        return 2
    if args.demo:
        from pa_console.console.demo import run_demo

        return run_demo(args)
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("pa-console")
    app.setApplicationDisplayName("PA Console")
    app.setQuitOnLastWindowClosed(False)
    result = qasync.run(run_console(args))
    return int(result)


if __name__ == "__main__":
    sys.exit(main())
