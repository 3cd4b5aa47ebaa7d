"""Killing the primary: the console shows the countdown ticking, says a manual failover is needed, and
Become Primary (forced) makes the backup the primary."""

from __future__ import annotations

from collections.abc import Callable

from pa_console.console.state.notifier import NoticeKind
from pa_console.console.state.status import ConnectionStatus, LinkState
from pa_console.protocol.models import Endpoint, Role, SyncStatus
from tests.harness import RunningAgent, free_port
from tests.integration.console.conftest import KEY, Console
from tests.ui.fixtures import run


def test_countdown_then_forced_manual_failover(console: Console, agents: Callable[..., RunningAgent]) -> None:
    alpha, beta = agents("alpha", KEY), agents("beta", KEY)
    r = beta.request("PUT", "/api/v1/failover/settings", json={"first_sync_delay_s": 1, "probe_interval_s": 0.2})
    assert r.status_code == 200, r.text
    a, b = console.add(alpha), console.add(beta)
    # The backup's Primary Site Instance Timeout, set through the settings form.
    console.select(b)
    pane = console.window.failover
    pane.settings.primary_timeout.setValue(8)
    pane.settings.auto_failover.setChecked(False)
    task = pane.settings.save()
    assert task is not None
    console.wait(task.done, 10)
    console.wait(lambda: b.settings is not None and b.settings.primary_timeout_s == 8, 10)
    run(
        console.loop,
        console.qtbot,
        console.fleet.client(a.id).establish(
            Endpoint(host=beta.host, port=beta.port), Endpoint(host=alpha.host, port=alpha.port)
        ),
    )
    console.wait(lambda: b.health is not None and b.health.last_sync_status == SyncStatus.OK, 30)
    console.select(b)
    box = pane.takeover
    assert box.isVisible() and box.sync_first.isVisible() and not box.force.isVisible()

    alpha.kill()
    # The console sees the primary go offline, the backup's countdown tick every second, the link "primary lost".
    console.wait(lambda: a.status == ConnectionStatus.OFFLINE, 15)
    # Automatic failover is off: from the start the console says a manual failover is needed (never a countdown to
    # nothing), with the agent's reason for calling the primary lost.
    console.wait(lambda: "manual failover needed (automatic failover is off)" in box.countdown.text(), 15)
    assert "Why: " in box.countdown.text() and not box.big_countdown.isVisible()
    assert pane.diagram.picture is not None and pane.diagram.picture.link == LinkState.PRIMARY_LOST
    assert "manual failover needed" in pane.diagram.picture.link_label
    console.wait(lambda: NoticeKind.MANUAL_NEEDED in [n.kind for n in console.window.banner.shown], 20)
    kinds = [n.kind for n in console.window.banner.shown]
    # Nothing happens when this countdown ends: the loss and the need for a manual failover are told, no countdown.
    assert NoticeKind.PRIMARY_LOST in kinds and NoticeKind.MANUAL_NEEDED in kinds and NoticeKind.COUNTDOWN not in kinds
    assert b.role == Role.BACKUP
    # Become Primary: only with force while the primary is unreachable.
    assert box.force.isVisible() and not box.become_primary.isEnabled()
    box.force.setChecked(True)
    task = box.on_become_primary()
    assert task is not None
    console.wait(task.done, 30)
    assert not box.error.isVisible(), box.error.text()
    console.wait(lambda: b.role == Role.PRIMARY, 15)
    title, text = console.confirm.asked[-1]
    assert title == "Become primary?" and "ALONE" in text
    # The words match what happened (the agent says how: forced), and the lost-primary banner has ended.
    console.wait(lambda: "beta was made primary (forced takeover). An administrator made the backup the primary "
                         "while the primary was lost." in console.window.banner.texts(), 10)
    assert not any("Primary lost" in t for t in console.window.banner.texts())
    assert beta.health()["role"] == "primary"
    console.wait(lambda: not box.isVisible(), 5)  # a primary has no takeover box
    # The old primary returns, finds a newer primary, demotes itself; the console tells and regroups.
    alpha.start()
    console.wait(lambda: a.status == ConnectionStatus.ONLINE, 20)
    console.wait(lambda: a.role == Role.BACKUP, 20)
    console.wait(lambda: NoticeKind.DEMOTED in [n.kind for n in console.window.banner.shown], 10)
    assert b.role == Role.PRIMARY
    console.wait(lambda: console.window.appliances.topLevelItem(0).text(0) == "beta ⇄ alpha", 10)


def test_planned_swap_with_sync_first(console: Console, agents: Callable[..., RunningAgent]) -> None:
    alpha, beta = agents("alpha", KEY), agents("beta", KEY)
    alpha.seed(5, 1000)
    r = beta.request("PUT", "/api/v1/failover/settings", json={"first_sync_delay_s": 1})
    assert r.status_code == 200, r.text
    a, b = console.add(alpha), console.add(beta)
    run(
        console.loop,
        console.qtbot,
        console.fleet.client(a.id).establish(
            Endpoint(host=beta.host, port=beta.port), Endpoint(host=alpha.host, port=alpha.port)
        ),
    )
    console.wait(lambda: b.health is not None and b.health.last_sync_status == SyncStatus.OK, 30)
    alpha.seed(2, 1000)  # a change the last sync must carry over before the swap
    console.select(b)
    box = console.window.failover.takeover
    assert box.sync_first.isVisible() and box.sync_first.isChecked() and box.become_primary.isEnabled()
    task = box.on_become_primary()
    assert task is not None
    console.wait(task.done, 60)
    assert not box.error.isVisible(), box.error.text()
    title, text = console.confirm.asked[-1]
    assert title == "Become primary?"
    assert "A last sync runs first" in text and "no moment with two primaries" in text
    console.wait(lambda: b.role == Role.PRIMARY and a.role == Role.BACKUP, 20)
    assert beta.digest()["sessions"] == 7
    console.wait(lambda: any("(planned swap)" in t for t in console.window.banner.texts()), 10)
    assert not any("took over" in t for t in console.window.banner.texts())
    # The list still shows them as a pair, the new primary first.
    console.wait(lambda: console.window.appliances.topLevelItem(0).text(0) == "beta ⇄ alpha", 10)
    # And back, from the primary's side: Become Backup hands the role over again.
    console.select(b)
    handover = console.window.failover.handover
    console.wait(lambda: handover.isVisible(), 10)
    task = handover.on_become_backup()
    assert task is not None
    console.wait(task.done, 60)
    assert not handover.error.isVisible(), handover.error.text()
    console.wait(lambda: a.role == Role.PRIMARY and b.role == Role.BACKUP, 20)
    assert alpha.health()["role"] == "primary" and beta.health()["role"] == "backup"


def test_automatic_failover_seen_from_the_console(console: Console, agents: Callable[..., RunningAgent]) -> None:
    alpha, beta = agents("alpha", KEY), agents("beta", KEY)
    address = "127.0.0.151"
    shared = {"driver": "loopback", "address": address, "port": free_port(address)}
    r = alpha.request("PUT", "/api/v1/failover/settings", json={"shared_address": shared})
    assert r.status_code == 200, r.text
    r = beta.request("PUT", "/api/v1/failover/settings", json={"first_sync_delay_s": 1, "probe_interval_s": 0.3})
    assert r.status_code == 200, r.text
    a, b = console.add(alpha), console.add(beta)
    run(
        console.loop,
        console.qtbot,
        console.fleet.client(a.id).establish(
            Endpoint(host=beta.host, port=beta.port), Endpoint(host=alpha.host, port=alpha.port)
        ),
    )
    # A complete copy (issue 13: else the backup says it would not take over, and the console asks).
    console.wait(lambda: b.health is not None and b.health.last_sync_status == SyncStatus.OK
                 and b.health.copy_complete is True and b.blocked_reason is None, 30)
    # On the backup: the same shared address, automatic failover, a short timeout; all through the form.
    console.select(b)
    form = console.window.failover.settings
    form.primary_timeout.setValue(5)
    form.shared_enabled.setChecked(True)
    form.driver.setCurrentText("loopback")
    form.address.setText(address)
    form.address_port.setValue(int(shared["port"]))
    form.auto_failover.setChecked(True)
    asked = len(console.confirm.asked)
    task = form.save()
    assert task is not None
    console.wait(task.done, 10)
    assert not form.error.isVisible(), form.error.text()
    console.wait(lambda: b.settings is not None and b.settings.auto_failover, 10)
    # Every readiness item was green, so turning automatic failover on did not need a warning.
    assert len(console.confirm.asked) == asked, console.confirm.asked[asked:]
    assert console.window.failover.readiness.count() == 7

    alpha.kill()
    box = console.window.failover.takeover
    console.wait(lambda: "automatic takeover in" in box.countdown.text(), 15)
    console.wait(lambda: b.role == Role.PRIMARY, 20)
    console.wait(lambda: NoticeKind.TAKEOVER in [n.kind for n in console.window.banner.shown], 10)
    console.wait(lambda: any(t.startswith("beta took over automatically.") for t in console.window.banner.texts()), 10)
    kinds = [n.kind for n in console.window.banner.shown]
    assert NoticeKind.PRIMARY_LOST in kinds and NoticeKind.COUNTDOWN in kinds
    assert kinds.count(NoticeKind.TAKEOVER) == 1
    timeline_types = [e.event.type for e in console.fleet.timeline.all_entries() if e.appliance == b.id]
    assert "takeover" in timeline_types and "primary_lost" in timeline_types
