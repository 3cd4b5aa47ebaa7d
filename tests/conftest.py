from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import RunningAgent, SmtpSink, start_agent

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# PySide6 6.12's lazy class loading crashed in paint code depending on which modules were collected; pytest-qt
# imports PySide6 before tests/ui/conftest.py is read, so it must be set here.
os.environ.setdefault("PYSIDE6_OPTION_LAZY", "0")


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[Callable[..., RunningAgent]]:
    """Factory of real agents on loopback; every agent it started is stopped afterwards."""
    started: list[RunningAgent] = []

    def make(name: str, key_hex: str | None = None) -> RunningAgent:
        agent = start_agent(tmp_path, name, key_hex)
        started.append(agent)
        return agent

    yield make
    for agent in started:
        agent.kill()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()
