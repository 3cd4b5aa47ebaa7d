"""A Fleet over fake appliance states and fake clients: views tested without agents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pa_console.console.secrets import TokenStore
from pa_console.console.services.fleet import Fleet
from pa_console.console.settings import SettingsStore
from pa_console.console.state.appliance import ApplianceState


class FakeClient:
    """Records calls; answers are set per test in `answers` (a value, an exception, or a callable)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.answers: dict[str, Any] = {}

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)

        async def call(*args: Any) -> Any:
            self.calls.append((method, args))
            answer = self.answers.get(method)
            if isinstance(answer, BaseException):
                raise answer
            if callable(answer):
                return answer(*args)
            return answer

        return call

    def called(self, method: str) -> list[tuple[Any, ...]]:
        return [args for name, args in self.calls if name == method]


class FakeMonitor:
    def __init__(self, state: ApplianceState) -> None:
        self.state = state
        self.client = FakeClient(state.name)
        self.refreshed = 0

    async def refresh(self, parts: Any = None) -> None:
        self.refreshed += 1

    def poke(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def fake_fleet(tmp_path: Path, *states: ApplianceState) -> Fleet:
    fleet = Fleet(SettingsStore(tmp_path / "settings.json"), TokenStore())
    for state in states:
        fleet.adopt(state)
        fleet.monitors[state.id] = FakeMonitor(state)  # type: ignore[assignment]
    fleet.changed.emit(None)
    return fleet


def client(fleet: Fleet, state: ApplianceState) -> FakeClient:
    return fleet.monitors[state.id].client  # type: ignore[return-value]
