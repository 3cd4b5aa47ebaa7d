"""Send test email says what happened, in words a new administrator can act on, and never that an SMTP server
answered when none was reached.

Found trying the console: "Not sent. The SMTP server answered: Cannot send through the SMTP server
no-such-host.invalid:25: Error connecting to no-such-host.invalid on port 25: [Errno -2] Name or service not known"."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import RunningAgent, free_port
from tests.integration.console.conftest import Console


@pytest.fixture
def console(qtbot: Any, aloop: Any, tmp_path: Path) -> Iterator[Console]:
    c = Console(qtbot, aloop, tmp_path)
    yield c
    c.close()


def send_test(console: Console, host: str, port: int) -> str:
    pane = console.window.email
    pane.host.setText(host)
    pane.port.setValue(port)
    before = pane.answer.text()
    pane.test_button.click()
    console.wait(lambda: (pane.answer.text() not in ("", "Sending…", before) and pane.test_button.isEnabled())
                 or pane.error.isVisible(), 30)
    assert not pane.error.isVisible(), pane.error.text()
    return pane.answer.text()


def test_no_server_reached_is_said_plainly(console: Console, agents: Callable[..., RunningAgent]) -> None:
    alpha = agents("alpha")
    state = console.add(alpha)
    console.select(state)
    console.window.tabs.setCurrentWidget(console.window.email)
    pane = console.window.email
    console.wait(lambda: state.email is not None and pane.test_button.isEnabled(), 10)
    pane.sender_edit.setText("pa@example.com")
    pane.recipients.setText("admin@example.com")
    closed = free_port()  # nothing listens there
    said = send_test(console, "127.0.0.1", closed)
    assert said == f"Not sent. No SMTP server accepts connections at 127.0.0.1:{closed}; check the server and the " \
                   "port (usually 25, 465 or 587).", said
    said = send_test(console, "no-such-host.invalid", 25)
    assert said.startswith("Not sent. The SMTP server name no-such-host.invalid is not known"), said
    for text in (said,):
        assert "answered" not in text and "Errno" not in text


def test_the_test_button_says_it_saves_first(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    from pa_console.console.views.email_pane import EmailPane
    from pa_console.protocol.models import EmailConfig
    from tests.ui.fakes import fake_fleet
    from tests.unit.console.factories import appliance

    lone = appliance("alpha", 1001)
    lone.set_email(EmailConfig(host="smtp.example.com", port=25, sender="pa@example.com",
                               recipients=["admin@example.com"]))
    pane = EmailPane(fake_fleet(tmp_path, lone))
    qtbot.addWidget(pane)
    pane.show()
    pane.set_appliance(lone.id)
    assert pane.test_button.text().replace("&", "") == "Send test email"
    pane.port.setValue(587)  # the test would save this on the appliance first: the button says so
    assert pane.test_button.text().replace("&", "") == "Save and send test email"
    pane.port.setValue(25)
    assert pane.test_button.text().replace("&", "") == "Send test email"
