"""Service habits under systemd: Type=notify readiness, watchdog pings, the journal only; a rotating log elsewhere.

A real agent is given NOTIFY_SOCKET/WATCHDOG_USEC/JOURNAL_STREAM as systemd gives them, and the test plays systemd's
side of the notification socket (issue 16)."""

from __future__ import annotations

import logging
import logging.handlers
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pa_console.agent.paths import DataDir
from pa_console.agent.server import LOG_MAX_BYTES, _configure_logging
from tests.harness import RunningAgent, init_agent


def _receive(sock: socket.socket, until: Callable[[list[str]], bool], timeout: float = 30) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(got):
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            pass
    return got


def test_ready_watchdog_and_stopping_under_systemd(tmp_path: Path) -> None:
    notify_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(notify_path))
        sock.settimeout(0.5)
        agent: RunningAgent = init_agent(tmp_path, "unit")
        # The harness sends the agent's stderr to serve.out: made the "journal" stream, as systemd names it.
        journal = agent.data_dir / "serve.out"
        journal.touch()
        st = journal.stat()
        agent.extra_env = {"NOTIFY_SOCKET": str(notify_path), "WATCHDOG_USEC": "1000000",
                           "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}",
                           "INVOCATION_ID": "0123456789abcdef0123456789abcdef"}
        agent.start()
        try:
            got = _receive(sock, lambda g: sum(m == "WATCHDOG=1" for m in g) >= 3)
            ready = [m for m in got if m.startswith("READY=1")]
            assert ready and f"STATUS=serving https://127.0.0.1:{agent.port}" in ready[0], got
            assert sum(m == "WATCHDOG=1" for m in got) >= 3  # every 0.5 s with WatchdogSec=1s
            assert agent.terminate() == 0
            got = _receive(sock, lambda g: "STOPPING=1" in g, timeout=5)
            assert "STOPPING=1" in got
        finally:
            agent.kill()
    # The journal only: no agent.log next to it; what it logged went to standard error.
    assert not (agent.data_dir / "agent.log").exists()
    assert "pa-agent unit serving" in agent.output()


@pytest.mark.parametrize("journal_stream", [None, "8:12345"])  # none, or inherited but not this stderr
def test_elsewhere_a_rotating_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, journal_stream: str | None) -> None:
    if journal_stream is None:
        monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    else:
        monkeypatch.setenv("JOURNAL_STREAM", journal_stream)
    data_dir = DataDir(tmp_path)
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    _configure_logging(data_dir, "info")
    added = [h for h in root.handlers if h not in before]
    try:
        rotating = [h for h in added if isinstance(h, logging.handlers.RotatingFileHandler)]
        assert len(rotating) == 1 and rotating[0].maxBytes == LOG_MAX_BYTES and rotating[0].backupCount >= 1
        assert Path(rotating[0].baseFilename) == data_dir.log.resolve()
    finally:
        for handler in added:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)
