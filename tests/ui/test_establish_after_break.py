"""After a break, the establish form offers the other appliance as soon as it is standalone, and never tells the
administrator to add an appliance the console already has.

Found trying the console as a new administrator: after Break, the form of the appliance that became standalone first
offered only "(enter the details by hand)" and said "The console cannot compare the keys: add the backup appliance
to the console", although the other appliance was in the console (it became standalone a poll later)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pa_console.console.views.failover_pane import FailoverPane
from pa_console.protocol.models import Role
from tests.ui.fakes import fake_fleet
from tests.unit.console.factories import health, pair


def test_the_other_appliance_is_offered_once_it_is_standalone(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    alpha, beta = pair()
    fleet = fake_fleet(tmp_path, alpha, beta)
    pane = FailoverPane(fleet)
    qtbot.addWidget(pane)
    pane.show()
    pane.set_appliance(alpha.id)
    form = pane.establish
    # The break reaches alpha first: beta is still a backup, so nothing can be offered yet.
    alpha.set_health(health("alpha", Role.STANDALONE))
    assert pane.establish_box.isVisible()
    assert form.pick.findData(beta.id) == -1
    # A poll later beta is standalone too: the picker offers it and the words ask to choose it.
    beta.set_health(health("beta", Role.STANDALONE))
    assert form.pick.findData(beta.id) > 0
    said = form.key_check.text() + " " + form.auto_hint.text()
    assert "add the backup appliance to the console" not in said.lower(), said
    assert "Choose the backup appliance above" in form.key_check.text()
    assert not form.establish_button.isEnabled()  # nothing chosen yet
    index = form.pick.findData(beta.id)
    form.pick.setCurrentIndex(index)
    form.pick.activated.emit(index)
    assert form.backup.host.text() == "127.0.0.1" and form.backup.port.value() == 1002
    assert "match" in form.key_check.text() and form.establish_button.isEnabled()


def test_an_address_not_in_the_console_still_says_to_add_it(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    alpha, beta = pair()
    alpha.set_health(health("alpha", Role.STANDALONE))
    beta.set_health(health("beta", Role.STANDALONE))
    fleet = fake_fleet(tmp_path, alpha, beta)
    pane = FailoverPane(fleet)
    qtbot.addWidget(pane)
    pane.show()
    pane.set_appliance(alpha.id)
    qtbot.keyClicks(pane.establish.backup.host, "10.9.9.9")
    assert "add the backup appliance to the console" in pane.establish.key_check.text()
