"""The Failover pane over fake state: what it shows and what it asks the agent, per role and situation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pa_console.console.client.errors import AgentError, ErrorCategory
from pa_console.console.state.status import LinkState
from pa_console.console.views.failover_pane import FailoverPane
from pa_console.protocol.events import (
    AwaitingManualFailover,
    Countdown,
    PrimaryLost,
    SyncFailed,
    SyncFinished,
    SyncStarted,
)
from pa_console.protocol.models import (
    Endpoint,
    FailoverSettings,
    RoleRequest,
    RoleResult,
    SiteDigest,
    SyncProgress,
    SyncStartResult,
)
from tests.ui.fakes import client, fake_fleet
from tests.unit.console.factories import FakeClock, appliance, event, pair


class Confirm:
    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str]] = []

    async def __call__(self, title: str, text: str) -> bool:
        self.asked.append((title, text))
        return self.answer


def make_pane(qtbot: Any, fleet: Any, confirm: Confirm | None = None) -> FailoverPane:
    pane = FailoverPane(fleet, confirm=confirm or Confirm())
    qtbot.addWidget(pane)
    pane.show()
    return pane


def test_standalone_shows_establish_form_validated_as_typed(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    lone = appliance("alpha", 1001)
    other = appliance("beta", 1002)
    lone.set_key_fingerprint("aa" * 32)
    other.set_key_fingerprint("bb" * 32)
    fleet = fake_fleet(tmp_path, lone, other)
    pane = make_pane(qtbot, fleet)
    pane.set_appliance(lone.id)
    form = pane.establish
    assert pane.establish_box.isVisible() and not pane.takeover.isVisible() and not pane.break_box.isVisible()
    assert form.reverse.host.text() == "127.0.0.1" and form.reverse.port.value() == 1001
    qtbot.keyClicks(form.backup.host, "bad host!")
    assert form.backup.error.isVisible() and "not a host name" in form.backup.error.text()
    assert not form.establish_button.isEnabled()
    form.backup.host.clear()
    qtbot.keyClicks(form.backup.host, "127.0.0.1")
    form.backup.port.setValue(1002)
    # The backup is in the console: keys are compared before the button can be pressed.
    assert not form.backup.error.isVisible()
    assert "differ" in form.key_check.text() and not form.establish_button.isEnabled()
    other.set_key_fingerprint("AA" * 32)
    form.revalidate()
    assert "match" in form.key_check.text() and form.establish_button.isEnabled()


def test_agent_error_appears_next_to_the_field(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    lone = appliance("alpha", 1001)
    fleet = fake_fleet(tmp_path, lone)
    api = client(fleet, lone)
    api.answers["establish"] = AgentError(
        ErrorCategory.REQUEST, "The backup at 10.0.0.9:8443 did not answer; check the address.", status_code=409
    )
    pane = make_pane(qtbot, fleet)
    pane.set_appliance(lone.id)
    form = pane.establish
    qtbot.keyClicks(form.backup.host, "10.0.0.9")
    assert form.establish_button.isEnabled()  # keys cannot be compared: allowed, the agent checks
    form.establish_button.click()
    qtbot.waitUntil(lambda: form.backup.agent_error.isVisible())
    assert "did not answer" in form.backup.agent_error.text()
    assert not form.reverse.agent_error.isVisible()
    assert api.called("establish") == [(Endpoint(host="10.0.0.9", port=8443), Endpoint(host="127.0.0.1", port=1001))]
    qtbot.keyClicks(form.backup.host, "0")  # editing the field clears the agent's complaint
    assert not form.backup.agent_error.isVisible()


def test_primary_shows_picture_sync_progress_and_sync_now(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    pane = make_pane(qtbot, fleet)
    pane.set_appliance(primary.id)
    assert not pane.establish_box.isVisible() and pane.sync.isVisible() and pane.break_box.isVisible()
    assert pane.diagram.picture is not None and pane.diagram.picture.link == LinkState.IN_SYNC
    assert "alpha (primary) and beta (backup): In sync" == pane.diagram.accessibleDescription()
    backup.apply_event(event(SyncStarted()))
    backup.set_progress(
        SyncProgress(phase="recordings", bytes_done=512 * 2**20, bytes_total=2**30, rate_bps=100 * 2**20, eta_s=5)
    )
    assert pane.sync.bar.value() == 500
    text = pane.sync.progress_text.text()
    assert text == "Recordings · 512.0 MiB of 1.0 GiB · 100.0 MiB/s · 5 s left"
    assert pane.diagram.picture.link == LinkState.SYNCING
    assert not pane.sync.sync_button.isEnabled()  # a sync is running
    backup.apply_event(
        event(SyncFinished(
            started_at=datetime.now(UTC),
            rows_moved=12,
            bytes_moved=2048,
            duration_s=3,
            digest_ok=True,
        ))
    )
    assert "12 rows, 2.0 KiB in 3 s; digests equal" in pane.sync.last_status.text()
    api = client(fleet, primary)
    api.answers["sync_now"] = SyncStartResult(started=True, detail="Sync started.")
    pane.sync.sync_button.click()
    qtbot.waitUntil(lambda: api.called("sync_now") == [()])


def test_failed_sync_says_why(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    pane = make_pane(qtbot, fleet)
    pane.set_appliance(backup.id)
    backup.apply_event(
        event(SyncFailed(started_at=datetime.now(UTC), error="primary went away"))
    )
    assert pane.sync.last_status.text() == "Failed: primary went away"
    assert pane.diagram.picture is not None and pane.diagram.picture.link == LinkState.BROKEN


def test_countdown_ticks_and_become_primary_forced(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    clock = FakeClock()
    primary, backup = pair(clock)
    fleet = fake_fleet(tmp_path, primary, backup)
    confirm = Confirm()
    pane = make_pane(qtbot, fleet, confirm)
    pane.set_appliance(backup.id)
    box = pane.takeover
    assert box.isVisible() and not pane.establish_box.isVisible()
    assert box.sync_first.isVisible() and not box.force.isVisible()
    backup.apply_event(event(PrimaryLost(error="connection refused")))
    backup.apply_event(event(Countdown(failover_in_s=30, auto_failover=True, action="takeover")))
    assert box.countdown.text() == "Primary lost · automatic takeover in 30 s\nWhy: connection refused"
    assert box.big_countdown.text() == "30 s" and box.big_countdown.isVisibleTo(box)
    assert box.timer.isActive() and box.timer.interval() == 1000
    clock.advance(3)
    qtbot.waitUntil(lambda: "in 27 s" in box.countdown.text(), timeout=2500)
    # Unreachable primary: only a forced takeover is possible.
    assert box.force.isVisible() and not box.sync_first.isVisible()
    assert not box.become_primary.isEnabled()
    box.force.setChecked(True)
    assert box.become_primary.isEnabled()
    api = client(fleet, backup)
    api.answers["set_role"] = RoleResult(role="primary", epoch=5, detail="beta is now the primary.")
    box.become_primary.click()
    qtbot.waitUntil(lambda: box.result.text() == "beta is now the primary.")
    assert api.called("set_role") == [(RoleRequest(role="primary", sync_first=False, force=True),)]
    title, text = confirm.asked[0]
    assert title == "Become primary?" and "takes over ALONE" in text and "Readiness" in text


def test_manual_failover_needed_notice(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    pane = make_pane(qtbot, fleet)
    pane.set_appliance(backup.id)
    backup.apply_event(event(AwaitingManualFailover()))
    assert "manual failover needed" in pane.takeover.countdown.text()


def test_declined_confirmation_sends_nothing(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    confirm = Confirm(answer=False)
    pane = make_pane(qtbot, fleet, confirm)
    pane.set_appliance(backup.id)
    client(fleet, backup).answers["site_digest"] = SiteDigest(
        sessions=1200, recordings=300, recording_bytes=5 * 2**30, sha256="x"
    )
    pane.break_button.click()
    qtbot.waitUntil(lambda: len(confirm.asked) == 1)
    title, text = confirm.asked[0]
    assert title == "Break Failover Relationships?"
    assert "1,200 sessions and 300 recordings (5.0 GiB) will be DELETED" in text
    assert "primary keeps its data" in text
    qtbot.wait(50)
    assert client(fleet, backup).called("break_relationship") == []


def test_settings_form_saves_partial_update_and_checks_readiness(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    confirm = Confirm(answer=True)
    pane = make_pane(qtbot, fleet, confirm)
    pane.set_appliance(backup.id)
    form = pane.settings
    form.pull_interval.setValue(60)
    form.auto_failover.setChecked(True)
    form.shared_enabled.setChecked(True)
    form.address.setText("10.0.0")
    assert form.error.isVisible() and not form.save_button.isEnabled()
    form.address.setText("127.0.0.9")
    assert form.save_button.isEnabled()
    saved = FailoverSettings(pull_interval_s=60, auto_failover=True)
    api = client(fleet, backup)
    api.answers["update_failover_settings"] = saved
    form.save_button.click()
    qtbot.waitUntil(lambda: backup.settings == saved)
    (body,) = api.called("update_failover_settings")[0]
    assert body.pull_interval_s == 60 and body.auto_failover is True
    assert body.shared_address is not None and body.shared_address.address == "127.0.0.9"
    # Turning automatic failover on asked first, showing the readiness items (the primary has no shared address).
    assert confirm.asked and "Turn on automatic failover?" == confirm.asked[0][0]
    assert "Shared address" in confirm.asked[0][1]


def test_settings_refusal_about_the_shared_address_shows_next_to_it(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    pane = make_pane(qtbot, fleet)
    pane.set_appliance(backup.id)
    form = pane.settings
    form.shared_enabled.setChecked(True)
    form.address.setText("10.20.30.40")
    client(fleet, backup).answers["update_failover_settings"] = AgentError(
        ErrorCategory.REQUEST,
        "The shared address 10.20.30.40 is not in a subnet both appliances share.",
        status_code=400,
    )
    form.save_button.click()
    qtbot.waitUntil(lambda: form.address_error.isVisible())
    assert "not in a subnet" in form.address_error.text() and not form.error.isVisible()
    qtbot.keyClicks(form.address, "1")
    assert not form.address_error.isVisible()


def test_primary_can_hand_over(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    fleet = fake_fleet(tmp_path, primary, backup)
    confirm = Confirm()
    pane = make_pane(qtbot, fleet, confirm)
    pane.set_appliance(backup.id)
    assert not pane.handover.isVisible()
    pane.set_appliance(primary.id)
    assert pane.handover.isVisible() and not pane.takeover.isVisible()
    api = client(fleet, primary)
    api.answers["set_role"] = RoleResult(role="backup", epoch=6, detail="beta is the primary now; alpha its backup.")
    pane.handover.become_backup.click()
    qtbot.waitUntil(lambda: "alpha its backup" in pane.handover.result.text())
    assert api.called("set_role") == [(RoleRequest(role="backup", force=False),)]
    assert "beta is asked to become the primary" in confirm.asked[-1][1]
    pane.handover.force.setChecked(True)
    assert "no appliance is primary" in pane.handover.what_will_happen()
