"""A forced takeover says what the site now holds, truthfully: the backup's copy as it was before the promotion.

Found trying the console as a new administrator: after a complete, verified sync and a forced takeover, the
hand-over box said "WARNING: This backup has never completed a sync", because the agent read the copy's state after
the promotion had already cleared the sync position."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pa_console.console.state.status import ConnectionStatus
from pa_console.protocol.models import Endpoint, Role, SyncStatus
from tests.harness import RunningAgent
from tests.integration.console.conftest import KEY, Console
from tests.ui.fixtures import run


@pytest.fixture
def console(qtbot: Any, aloop: Any, tmp_path: Path) -> Iterator[Console]:
    c = Console(qtbot, aloop, tmp_path)
    yield c
    c.close()


def test_forced_takeover_after_a_complete_sync_does_not_warn_of_no_copy(
    console: Console, agents: Callable[..., RunningAgent]
) -> None:
    alpha, beta = agents("alpha", KEY), agents("beta", KEY)
    r = beta.request("PUT", "/api/v1/failover/settings",
                     json={"first_sync_delay_s": 0.2, "probe_interval_s": 0.2, "auto_failover": False})
    assert r.status_code == 200, r.text
    alpha.seed(5)
    a, b = console.add(alpha), console.add(beta)
    run(console.loop, console.qtbot, console.fleet.client(a.id).establish(
        Endpoint(host=beta.host, port=beta.port), Endpoint(host=alpha.host, port=alpha.port)))
    console.wait(lambda: b.health is not None and b.health.last_sync_status == SyncStatus.OK
                 and b.health.copy_complete is True, 30)
    alpha.kill()
    console.wait(lambda: a.status == ConnectionStatus.OFFLINE and b.health is not None
                 and b.health.primary_reachable is False, 20)
    console.select(b)
    pane = console.window.failover
    box = pane.takeover
    console.wait(lambda: box.force.isVisible(), 5)
    box.force.setChecked(True)
    box.become_primary.click()
    console.wait(lambda: b.role == Role.PRIMARY, 30)
    # The role operation's answer is shown in the hand-over box of the new primary.
    console.wait(lambda: "took over alone" in pane.handover.result.text(), 10)
    said = pane.handover.result.text()
    assert "never completed a sync" not in said and "WARNING" not in said, said
    assert "It was a complete, verified copy of alpha's site data" in said, said


def test_a_demotion_is_told_without_jargon_alone(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    """'It found beta primary at a higher epoch' meant nothing to a new administrator: say what happened."""
    from pa_console.console.views.main_window import MainWindow
    from pa_console.protocol.events import Demoted
    from tests.ui.fakes import fake_fleet
    from tests.unit.console.factories import event, pair

    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    window = MainWindow(fleet)
    qtbot.addWidget(window)
    primary.apply_event(event(Demoted(peer="beta", epoch=4, peer_epoch=3)))
    fleet.banners.refresh()
    qtbot.waitUntil(lambda: any("demoted itself" in t for t in window.banner.texts()))
    said = next(t for t in window.banner.texts() if "demoted itself" in t)
    assert "beta had been made primary while it was away" in said, said
