"""An agent that hangs (SIGSTOP: it accepts connections and never answers) is told as what it is.

Found trying the console as a new administrator: a stopped agent was shown as "Certificate problem", with "The TLS
handshake ... failed (The operation did not complete (read) (_ssl.c:2580))", and the pair as "beta is certificate
problem". The hang is no certificate problem: the handshake timed out. The window must stay responsive meanwhile."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer

from pa_console.console.client.agent_client import AgentClient
from pa_console.console.secrets import TokenStore
from pa_console.console.services.fleet import Fleet
from pa_console.console.settings import SettingsStore
from pa_console.console.state.picture import build_picture
from pa_console.console.state.status import ConnectionStatus
from pa_console.console.views.main_window import MainWindow
from tests.harness import RunningAgent
from tests.ui.fixtures import run
from tests.unit.console.factories import pair


def short_timeout_client(host: str, port: int, token: str, cert_pem: str) -> AgentClient:
    return AgentClient(host, port, token, cert_pem, timeout=1.5)  # the real client; a short wait keeps the test short


def test_a_hung_agent_is_shown_offline_and_not_answering_and_the_window_stays_responsive(
    qtbot: Any, aloop: Any, tmp_path: Path, agents: Callable[..., RunningAgent]
) -> None:
    alpha = agents("alpha")
    fleet = Fleet(SettingsStore(tmp_path / "settings.json"), TokenStore(), client_factory=short_timeout_client,
                  poll_interval=0.3)
    window = MainWindow(fleet)
    qtbot.addWidget(window)
    window.show()
    run(aloop, qtbot, fleet.start())
    state = run(aloop, qtbot, fleet.add_appliance(alpha.host, alpha.port, alpha.token, alpha.cert_pem))
    qtbot.waitUntil(lambda: state.status == ConnectionStatus.ONLINE, timeout=20_000)
    window.appliances.select(state.id)
    gaps: list[float] = []
    last = [time.monotonic()]

    def tick() -> None:
        now = time.monotonic()
        gaps.append(now - last[0])
        last[0] = now

    meter = QTimer()
    meter.setInterval(50)
    meter.timeout.connect(tick)
    meter.start()
    assert alpha.proc is not None
    os.kill(alpha.proc.pid, signal.SIGSTOP)
    try:
        qtbot.waitUntil(lambda: state.status != ConnectionStatus.ONLINE, timeout=20_000)
        qtbot.wait(500)
        row = window.appliances.topLevelItem(0)
        assert state.status == ConnectionStatus.OFFLINE, state.status_detail
        assert row.text(2) == "Offline"
        said = window.status_label.text()
        assert "did not answer in time" in said and "hung" in said, said
        assert "certificate" not in said.lower() and "_ssl" not in said and "TLS" not in said, said
        # The event loop kept turning while every request to the agent hung.
        assert max(gaps) < 1.0, max(gaps)
    finally:
        meter.stop()
        os.kill(alpha.proc.pid, signal.SIGCONT)
    qtbot.waitUntil(lambda: state.status == ConnectionStatus.ONLINE, timeout=20_000)
    run(aloop, qtbot, fleet.aclose())


def test_a_status_reads_as_a_sentence_in_the_pair_picture() -> None:
    primary, backup = pair()
    backup.set_status(ConnectionStatus.TLS_PROBLEM, "WARNING: a different certificate")
    assert build_picture(primary, backup).link_label == "beta has a certificate problem"
    backup.set_status(ConnectionStatus.AUTH_PROBLEM, "The appliance refused the API token")
    assert build_picture(primary, backup).link_label == "beta refuses the console's token"
