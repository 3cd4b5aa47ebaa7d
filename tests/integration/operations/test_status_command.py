"""`pa-agent status DATA_DIR`: role, peer, last sync and countdown, from the serving agent or from the store."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.harness import RunningAgent, SmtpSink, run_cli, wait_until
from tests.integration.failover.helpers import make_pair
from tests.integration.sync.pair import sync_now


def status(agent: RunningAgent) -> list[str]:
    proc = run_cli("status", str(agent.data_dir))
    assert proc.stderr == ""
    return proc.stdout.splitlines()


@pytest.mark.timeout(180)
def test_status_of_a_pair_while_serving_and_after(agents: Callable[..., RunningAgent], smtp_sink: SmtpSink) -> None:
    pair = make_pair(agents, smtp_sink, primary_timeout_s=120, auto_failover=False)
    alpha, beta = pair.primary, pair.backup
    alpha.seed(12)
    sync_now(beta)
    lines = status(beta)
    assert len(lines) == 4, lines
    epoch = beta.health()["epoch"]
    assert lines[0] == f"beta: backup at epoch {epoch} (serving at 127.0.0.1:{beta.port})"
    assert lines[1] == f"peer: alpha at 127.0.0.1:{alpha.port}, reachable"
    assert lines[2].startswith("last sync: ok; last good one ") and " rows and " in lines[2], lines
    assert lines[3] == "countdown: none (the primary answers)"
    assert status(alpha)[3] == "countdown: none (not a backup)"

    alpha.kill()
    wait_until(lambda: "lost" in status(beta)[3], timeout=30, what="the countdown in the status")
    line = status(beta)[3]
    assert line.startswith("countdown: the primary is lost; this backup asks for a manual failover in ")
    assert "NOT reachable" in status(beta)[1]

    # Killed (listen.json left behind): read from the store, saying so.
    lines = status(alpha)
    assert lines[0].startswith("alpha: primary at epoch") and "not answering at 127.0.0.1:" in lines[0], lines
    assert "read from the store" in lines[0]
    # Stopped cleanly: no listen.json, read from the store.
    assert beta.terminate() == 0
    lines = status(beta)
    assert lines[0] == f"beta: backup at epoch {epoch} (not serving; read from the store)", lines
    assert lines[1] == f"peer: alpha at 127.0.0.1:{alpha.port}" and lines[2].startswith("last sync: ok")


def test_status_of_a_folder_without_appliance(tmp_path: object) -> None:
    proc = run_cli("status", str(tmp_path), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.startswith("pa-agent: ")
