"""Automatic failover on but blocked (an unreachable witness): every view names the real reason, the whole time.

Found trying the console: with a witness the backup could not reach, the console said "manual failover needed
(automatic failover blocked: the backup says it will not)". The agent's countdown ticks named no reason (only the
first primary_lost did), so each tick replaced the reason with nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pa_console.console.state.outlook import AutoFailover, auto_failover
from pa_console.console.state.status import ConnectionStatus
from pa_console.protocol.models import Endpoint, Role, SyncStatus
from tests.harness import RunningAgent, free_port
from tests.integration.console.conftest import KEY, Console
from tests.ui.fixtures import run


@pytest.fixture
def console(qtbot: Any, aloop: Any, tmp_path: Path) -> Iterator[Console]:
    c = Console(qtbot, aloop, tmp_path)
    yield c
    c.close()


def test_a_witness_blocked_takeover_names_the_witness(console: Console,
                                                      agents: Callable[..., RunningAgent]) -> None:
    alpha, beta = agents("alpha", KEY), agents("beta", KEY)
    witness = f"127.0.0.1:{free_port()}"  # nothing listens: the backup may not take over
    shared = {"driver": "loopback", "address": "127.77.0.9", "port": free_port()}  # a takeover method that works
    r = alpha.request("PUT", "/api/v1/failover/settings", json={"shared_address": shared})
    assert r.status_code == 200, r.text
    r = beta.request("PUT", "/api/v1/failover/settings", json={
        "first_sync_delay_s": 0.2, "probe_interval_s": 0.2, "auto_failover": True, "primary_timeout_s": 4,
        "witness": [witness], "shared_address": shared})
    assert r.status_code == 200, r.text
    a, b = console.add(alpha), console.add(beta)
    run(console.loop, console.qtbot, console.fleet.client(a.id).establish(
        Endpoint(host=beta.host, port=beta.port), Endpoint(host=alpha.host, port=alpha.port)))
    console.wait(lambda: b.health is not None and b.health.last_sync_status == SyncStatus.OK
                 and b.health.copy_complete is True, 30)
    console.select(b)
    box = console.window.failover.takeover
    alpha.kill()
    console.wait(lambda: a.status == ConnectionStatus.OFFLINE and b.health is not None
                 and b.health.primary_reachable is False, 20)
    seen: list[str] = []

    def blocked_by_witness() -> bool:
        text = box.countdown.text()
        seen.append(text + " || " + " | ".join(console.window.banner.texts()))
        return auto_failover(b).mode == AutoFailover.BLOCKED and "witness" in text
    try:
        console.wait(blocked_by_witness, 15)
    except Exception:
        raise AssertionError(seen[-3:]) from None
    # Through the countdown ticks and past the timeout: the reason stays, nothing says a takeover will happen.
    for _ in range(12):
        console.qtbot.wait(500)
        text = box.countdown.text()
        banner = " | ".join(console.window.banner.texts())
        assert "the backup says it will not" not in text + banner, text + banner
        assert "witness" in text and "manual failover needed" in text, text
        assert "automatic takeover in" not in text + banner, text + banner
        assert not box.big_countdown.isVisible()
    assert b.role == Role.BACKUP
