"""A stand-in for AgentRuntime with just what the takeover methods use: settings, local store, bus, names."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from pa_console.protocol.events import EventBody, typed, wire_data
from pa_console.protocol.models import FailoverSettings


class FakeLocal:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


@dataclass
class FakeBus:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def publish(self, event: EventBody | str, **data: Any) -> None:
        self.events.append(wire_data(typed(event, data)))  # as the real bus stores it


@dataclass
class FakeRuntime:
    name: str = "beta"
    epoch: int = 7
    settings: FailoverSettings = field(default_factory=FailoverSettings)
    relationship: Any = field(default_factory=lambda: SimpleNamespace(peer_name="alpha", peer_host="127.0.0.1"))
    listen: str | None = "127.0.0.1:9443"
    local: FakeLocal = field(default_factory=FakeLocal)
    bus: FakeBus = field(default_factory=FakeBus)

    def steps(self) -> list[dict[str, Any]]:
        return [data for type_, data in self.bus.events if type_ == "takeover_step"]
