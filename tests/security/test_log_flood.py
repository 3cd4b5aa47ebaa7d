"""A client that sends garbage in a loop cannot fill the agent's log: uvicorn's warning per malformed request is
bounded (a few lines, then a count), and the agent keeps answering."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable

from tests.harness import RunningAgent


def test_malformed_requests_in_a_loop_leave_a_few_log_lines(agents: Callable[..., RunningAgent]) -> None:
    agent = agents("flood")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for _ in range(100):
        with socket.create_connection((agent.host, agent.port), timeout=5) as raw, \
                ctx.wrap_socket(raw) as tls:
            tls.sendall(b"\x16 NOT HTTP AT ALL\r\n\r\n")
            try:
                tls.recv(1024)
            except (ssl.SSLError, OSError):
                pass
    assert agent.health()["name"] == "flood"
    text = (agent.data_dir / "agent.log").read_text(errors="replace")
    count = text.count("Invalid HTTP request received")
    assert 1 <= count <= 5, count  # logged at all (the test sends what uvicorn rejects), and bounded
