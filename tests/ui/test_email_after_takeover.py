"""A backup that becomes primary gets an Email pane it can use: its email settings are read once it is primary.

Found trying the console: after an automatic takeover, the new primary's Email pane stayed greyed out, every field
and button disabled, with no word why (the console reads no email settings from a backup, and a takeover only made
it re-read the health)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pa_console.console.state.status import ConnectionStatus
from pa_console.protocol.models import Role, SyncStatus
from tests.harness import RunningAgent
from tests.integration.console.conftest import KEY, Console


@pytest.fixture
def console(qtbot: Any, aloop: Any, tmp_path: Path) -> Iterator[Console]:
    c = Console(qtbot, aloop, tmp_path)
    yield c
    c.close()


def test_the_new_primary_email_pane_is_usable(console: Console, agents: Callable[..., RunningAgent]) -> None:
    alpha, beta = agents("alpha", KEY), agents("beta", KEY)
    r = beta.request("PUT", "/api/v1/failover/settings", json={"first_sync_delay_s": 0.2, "probe_interval_s": 0.2})
    assert r.status_code == 200, r.text
    r = alpha.request("PUT", "/api/v1/email", json={"host": "smtp.example.com", "port": 25, "security": "none",
                                                     "sender": "pa@example.com", "recipients": ["a@example.com"]})
    assert r.status_code == 200, r.text
    r = alpha.request("POST", "/api/v1/failover/relationship", json={
        "backup": {"host": beta.host, "port": beta.port}, "reverse": {"host": alpha.host, "port": alpha.port}})
    assert r.status_code == 201, r.text
    a, b = console.add(alpha), console.add(beta)  # beta is a backup from the console's first look
    console.wait(lambda: b.health is not None and b.health.last_sync_status == SyncStatus.OK, 30)
    assert b.email is None
    alpha.kill()
    console.wait(lambda: a.status == ConnectionStatus.OFFLINE and b.health is not None
                 and b.health.primary_reachable is False, 20)
    r = beta.request("POST", "/api/v1/failover/role", json={"role": "primary", "force": True})
    assert r.status_code == 200, r.text
    console.wait(lambda: b.role == Role.PRIMARY, 15)
    console.select(b)
    window = console.window
    window.tabs.setCurrentWidget(window.email)
    pane = window.email
    console.wait(lambda: pane.test_button.isEnabled(), 10)
    assert pane.host.isEnabled() and pane.host.text() == "smtp.example.com"  # received from alpha by the sync
    assert not pane.backup_note.isVisible()
