"""The real console against real agents: fixtures shared by these tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pa_console.console.secrets import TokenStore
from pa_console.console.services.fleet import Fleet
from pa_console.console.settings import SettingsStore
from pa_console.console.state.appliance import ApplianceState
from pa_console.console.state.status import ConnectionStatus
from pa_console.console.views.main_window import MainWindow
from tests.harness import RunningAgent
from tests.ui.fixtures import aloop, memory_keyring, qloop, run

__all__ = ["aloop", "console", "memory_keyring", "qloop"]

KEY = "5a" * 32


class AutoConfirm:
    """Stands in for the confirmation dialogs: says yes, and keeps what was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    async def __call__(self, title: str, text: str) -> bool:
        self.asked.append((title, text))
        return True


class Console:
    """The console's services and main window, as pa-console builds them, on a temporary settings file."""

    def __init__(self, qtbot: Any, loop: Any, tmp_path: Path) -> None:
        self.qtbot = qtbot
        self.loop = loop
        self.confirm = AutoConfirm()
        self.fleet = Fleet(SettingsStore(tmp_path / "console" / "settings.json"), TokenStore(), poll_interval=0.5)
        self.window = MainWindow(self.fleet, confirm=self.confirm)
        qtbot.addWidget(self.window)
        self.window.show()
        run(loop, qtbot, self.fleet.start())

    def add(self, agent: RunningAgent) -> ApplianceState:
        """Add through the services (the dialog itself is covered by its own test)."""
        state = run(
            self.loop, self.qtbot, self.fleet.add_appliance(agent.host, agent.port, agent.token, agent.cert_pem)
        )
        self.wait_online(state)
        return state

    def wait_online(self, state: ApplianceState, timeout: float = 20) -> None:
        self.wait(lambda: state.status == ConnectionStatus.ONLINE and state.settings is not None, timeout)

    def wait(self, predicate: Callable[[], object], timeout: float = 30) -> None:
        self.qtbot.waitUntil(lambda: bool(predicate()), timeout=int(timeout * 1000))

    def select(self, state: ApplianceState) -> None:
        self.window.appliances.select(state.id)
        self.wait(lambda: self.window.failover._state is state, 5)

    def close(self) -> None:
        run(self.loop, self.qtbot, self.fleet.aclose())


@pytest.fixture
def console(qtbot: Any, aloop: Any, tmp_path: Path) -> Iterator[Console]:
    c = Console(qtbot, aloop, tmp_path)
    yield c
    c.close()
