"""Desktop notifications reach a freedesktop notification service over a real (private) D-Bus session bus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pa_console.console.state.notifier import Notice, NoticeKind, Urgency
from pa_console.console.views.notify_sinks import DesktopSink, TraySink
from tests.ui.fixtures import run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def session_bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed")
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE, text=True
    )
    assert daemon.stdout is not None
    address = daemon.stdout.readline().strip()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    record = tmp_path / "notifications.jsonl"
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.ui.fake_notifications", str(record)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": address},
    )
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    try:
        yield record
    finally:
        server.kill()
        server.wait(5)
        daemon.kill()
        daemon.wait(5)


def test_desktop_sink_speaks_freedesktop_notifications(qtbot: Any, aloop: Any, session_bus: Path) -> None:
    sink = DesktopSink()
    assert sink.available
    sink.show(Notice(NoticeKind.PRIMARY_LOST, "beta", "beta: primary lost", "It keeps trying.", Urgency.CRITICAL))
    qtbot.waitUntil(lambda: sink.sent == [1], timeout=10_000)
    (line,) = session_bus.read_text().splitlines()
    assert json.loads(line) == {
        "app": "PA Console",
        "summary": "beta: primary lost",
        "body": "It keeps trying.",
        "urgency": 2,
    }
    run(aloop, qtbot, sink.aclose())


def test_sinks_are_silent_without_a_service(qtbot: Any, aloop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    sink = DesktopSink()
    notice = Notice(NoticeKind.TAKEOVER, "beta", "beta took over", "It is now the primary.", Urgency.WARNING)
    sink.show(notice)  # no bus: nothing happens, nothing raises
    assert not sink.available and sink.sent == []
    TraySink(None).show(notice)
