"""The settings form keeps the load_balancer method: loaded, shown and saved as it is (issue 16)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pa_console.protocol.models import FailoverSettings, SharedAddress
from tests.ui.fakes import client, fake_fleet
from tests.ui.test_failover_pane import Confirm, make_pane
from tests.unit.console.factories import pair


def test_load_balancer_driver_round_trips(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    primary, backup = pair()
    own = SharedAddress(driver="load_balancer", address="10.0.0.12", port=443)
    backup.set_settings(FailoverSettings(shared_address=own))
    fleet = fake_fleet(tmp_path, primary, backup)
    pane = make_pane(qtbot, fleet, Confirm(answer=True))
    pane.set_appliance(backup.id)
    form = pane.settings
    assert form.driver.currentText() == "load_balancer" and form.address.text() == "10.0.0.12"
    form.address_port.setValue(8444)
    api = client(fleet, backup)
    api.answers["update_failover_settings"] = FailoverSettings(shared_address=own.model_copy(update={"port": 8444}))
    form.save_button.click()
    qtbot.waitUntil(lambda: api.called("update_failover_settings") != [])
    (body,) = api.called("update_failover_settings")[0]
    assert body.shared_address == SharedAddress(driver="load_balancer", address="10.0.0.12", port=8444)
