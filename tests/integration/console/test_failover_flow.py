"""The Failover pane against two real agents: establish, sync with live progress, break."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer

from pa_console.console.state.status import LinkState
from pa_console.protocol.models import Role, SyncStatus
from tests.harness import RunningAgent
from tests.integration.console.conftest import KEY, Console


def test_add_dialog_trusts_on_first_use(console: Console, agents: Callable[..., RunningAgent], qtbot: Any) -> None:
    alpha = agents("alpha", KEY)
    dialog = console.window.open_add_dialog()
    qtbot.keyClicks(dialog.host, "127.0.0.1")
    dialog.port.setValue(alpha.port)
    assert not dialog.fetch_button.isEnabled()  # no token yet
    qtbot.keyClicks(dialog.token, "wrong-token")
    dialog.fetch_button.click()
    console.wait(lambda: dialog.trust_box.isVisible(), 10)
    # The fingerprint shown is the one `pa-agent info` prints: the user can compare them.
    assert dialog.fingerprint.text().replace("\n", "") == alpha.fingerprint
    assert dialog.fingerprint.accessibleDescription() == alpha.fingerprint
    dialog.add_button.click()
    console.wait(lambda: dialog.error.isVisible(), 10)
    assert "token" in dialog.error.text().lower() and not console.fleet.states
    dialog.token.clear()
    qtbot.keyClicks(dialog.token, alpha.token)
    dialog.fetch_button.click()
    console.wait(lambda: dialog.add_button.isEnabled(), 10)
    dialog.add_button.click()
    console.wait(lambda: dialog.added_id is not None, 10)
    state = console.fleet.state(dialog.added_id or "")
    console.wait_online(state)
    assert state.name == "alpha"
    # The token is in the keyring, never in the settings file.
    settings_text = console.fleet.settings_store.path.read_text()
    assert alpha.token not in settings_text and alpha.cert_pem.strip().splitlines()[1] in settings_text
    assert console.window.appliances.item_for(state.id) is not None


def test_establish_sync_with_progress_and_break(console: Console, agents: Callable[..., RunningAgent]) -> None:
    alpha, beta = agents("alpha", KEY), agents("beta", KEY)
    alpha.seed(40, 1024 * 1024)
    # The backup's own settings: first sync soon after the relationship is made.
    r = beta.request("PUT", "/api/v1/failover/settings", json={"first_sync_delay_s": 2})
    assert r.status_code == 200, r.text
    a, b = console.add(alpha), console.add(beta)
    console.select(a)
    pane = console.window.failover
    form = pane.establish
    assert pane.establish_box.isVisible()
    form.pick.setCurrentIndex(form.pick.findData(b.id))
    form.pick.activated.emit(form.pick.currentIndex())
    assert form.backup.host.text() == "127.0.0.1" and form.backup.port.value() == beta.port
    assert form.reverse.port.value() == alpha.port
    assert form.key_check.text().startswith("✔")
    progress_seen: list[int] = []
    b.changed.connect(lambda what: what == "progress" and b.progress and progress_seen.append(b.progress.bytes_done))
    # The event loop must stay responsive while the sync reports progress: measure its longest stall.
    stalls: list[float] = []
    last = [time.monotonic()]

    def tick() -> None:
        now = time.monotonic()
        stalls.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(tick)
    timer.start()
    form.establish_button.click()
    # The pair forms in the list and the picture shows both roles.
    console.wait(lambda: a.role == Role.PRIMARY and b.role == Role.BACKUP, 20)
    console.wait(lambda: console.window.appliances.topLevelItem(0).text(0) == "alpha ⇄ beta", 10)
    console.wait(lambda: not pane.establish_box.isVisible() and pane.sync.isVisible(), 10)
    # The first sync runs; its progress reached the bar; it ends in sync with equal digests.
    console.wait(lambda: b.health is not None and b.health.last_sync_status == SyncStatus.OK, 60)
    console.wait(lambda: pane.diagram.picture is not None and pane.diagram.picture.link == LinkState.IN_SYNC, 10)
    timer.stop()
    assert progress_seen, "no sync progress reached the console"
    print(f"\nlongest event-loop stall during the sync: {max(stalls) * 1000:.0f} ms")
    assert max(stalls) < 0.5, f"the event loop stalled for {max(stalls):.3f} s"
    assert "digests equal" in pane.sync.last_status.text()
    assert beta.digest()["sha256"] == alpha.digest()["sha256"]
    # Sync Now after a change moves it.
    alpha.seed(1, 1000)
    before = b.last_report
    task = pane.sync.sync_now()
    assert task is not None
    console.wait(task.done, 10)
    assert not pane.sync.error.isVisible(), pane.sync.error.text()
    console.wait(lambda: b.last_report is not before and b.last_report is not None, 30)
    console.wait(lambda: beta.digest()["sessions"] == 41, 10)
    # The timeline has both appliances' events.
    kinds = {(e.appliance, e.event.type) for e in console.fleet.timeline.all_entries()}
    assert (a.id, "relationship_established") in kinds and (b.id, "sync_finished") in kinds
    # Break: the confirmation says what the backup loses; both end standalone, the backup empty.
    task = pane.on_break()
    assert task is not None
    console.wait(task.done, 30)
    console.wait(lambda: a.role == Role.STANDALONE and b.role == Role.STANDALONE, 20)
    title, text = console.confirm.asked[-1]
    assert title == "Break Failover Relationships?" and "41 sessions" in text and "DELETED" in text
    assert beta.digest()["sessions"] == 0 and alpha.digest()["sessions"] == 41
    console.wait(lambda: console.window.appliances.topLevelItemCount() == 2, 10)
