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

from pa_console.console.state.notifier import Notice, NoticeKind, Notifier, Urgency
from pa_console.console.views.notify_sinks import DesktopSink, TraySink
from pa_console.protocol.events import AwaitingManualFailover, Countdown, PrimaryLost, Takeover
from tests.ui.fixtures import run
from tests.unit.console.factories import event

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
    record = json.loads(line)
    assert {k: record[k] for k in ("app", "summary", "body", "urgency", "replaces")} == {
        "app": "PA Console",
        "summary": "beta: primary lost",
        "body": "It keeps trying.",
        "urgency": 2,
        "replaces": 0,
    }
    run(aloop, qtbot, sink.aclose())


class _Recorder:
    def __init__(self) -> None:
        self.shown: list[Notice] = []

    def show(self, notice: Notice) -> None:
        self.shown.append(notice)


def test_one_notification_per_incident_updated_in_place(qtbot: Any, aloop: Any, session_bus: Path) -> None:
    tray = _Recorder()
    sink = DesktopSink(fallback=tray)  # type: ignore[arg-type]
    notifier = Notifier()
    notifier.add_sink(sink)
    incident = [
        PrimaryLost(error="connection refused", failover_in_s=130, auto_failover=True, action="takeover"),
        *(Countdown(failover_in_s=s, auto_failover=True, action="takeover") for s in range(125, 0, -1)),
        Takeover(epoch=3, how="automatic"),
    ]
    for body in incident:
        notifier.on_event("beta", event(body))
    told = 1 + 5 + 1  # the loss, the countdown passing 300, 120, 60, 30 and 10 s, the takeover
    qtbot.waitUntil(lambda: len(sink.sent) == told, timeout=10_000)
    records = [json.loads(line) for line in session_bus.read_text().splitlines()]
    assert len(records) == told and len({r["id"] for r in records}) == 1  # one notification, updated in place
    assert records[0]["replaces"] == 0 and all(r["replaces"] == records[0]["id"] for r in records[1:])
    assert [r["summary"] for r in records][-1] == "beta took over automatically"
    assert all(r["desktop_entry"] == "pa-console" and Path(r["app_icon"]).is_file() for r in records)
    assert {(r["urgency"], r["image"]) for r in records} == {(1, "dialog-warning")}
    # A new incident gets a notification of its own; a manual failover needed is critical and stays up.
    notifier.on_event("beta", event(PrimaryLost(error="timed out", failover_in_s=20,
                                                action="await_manual_failover")))
    notifier.on_event("beta", event(AwaitingManualFailover(reason="automatic failover is off")))
    qtbot.waitUntil(lambda: len(sink.sent) == told + 2, timeout=10_000)
    records = [json.loads(line) for line in session_bus.read_text().splitlines()]
    second = records[told:]
    assert second[0]["id"] != records[0]["id"] and second[1]["replaces"] == second[0]["id"]
    assert (second[1]["urgency"], second[1]["image"], second[1]["timeout"]) == (2, "dialog-error", -1)
    assert tray.shown == []  # never twice: no tray balloon while the notification service answers
    run(aloop, qtbot, sink.aclose())


def test_sinks_are_silent_without_a_service(qtbot: Any, aloop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    notice = Notice(NoticeKind.TAKEOVER, "beta", "beta took over", "It is now the primary.", Urgency.WARNING)
    tray = _Recorder()
    sink = DesktopSink(fallback=tray)  # type: ignore[arg-type]
    sink.show(notice)  # no bus: nothing raises, and the tray (when there is one) tells instead
    assert not sink.available and sink.sent == [] and tray.shown == [notice]
    TraySink(None).show(notice)
