"""The Email pane shows how the relay's certificate is verified, and sends the CA file setting (issue 16)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pa_console.console.views.email_pane import EmailPane
from pa_console.protocol.models import EmailConfig
from tests.ui.fakes import client, fake_fleet
from tests.unit.console.factories import appliance


def test_email_pane_shows_verification_and_saves_the_ca_file(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    lone = appliance("alpha", 1001)
    lone.set_email(EmailConfig(host="relay.example.com", port=587, security="starttls", sender="pa@example.com",
                               recipients=["admin@example.com"],
                               verification="the server's certificate is verified against the system trust store"))
    fleet = fake_fleet(tmp_path, lone)
    pane = EmailPane(fleet)
    qtbot.addWidget(pane)
    pane.show()
    pane.set_appliance(lone.id)
    assert pane.verification.text() == "The server's certificate is verified against the system trust store."
    assert pane.ca_file.text() == "" and pane.ca_file.isEnabled()

    api = client(fleet, lone)
    pane.ca_file.setText("ca.pem")
    pane.save_button.click()
    qtbot.waitUntil(lambda: pane.error.isVisible())
    assert "absolute path" in pane.error.text() and api.called("update_email") == []

    pane.ca_file.setText("/etc/pa-agent/smtp-ca.pem")
    api.answers["update_email"] = EmailConfig(
        host="relay.example.com", port=587, security="starttls", sender="pa@example.com",
        recipients=["admin@example.com"], ca_file="/etc/pa-agent/smtp-ca.pem",
        verification="the server's certificate is verified against the system trust store and the CA file "
                     "/etc/pa-agent/smtp-ca.pem")
    pane.save_button.click()
    qtbot.waitUntil(lambda: api.called("update_email") != [])
    (body,) = api.called("update_email")[0]
    assert body.ca_file == "/etc/pa-agent/smtp-ca.pem"
    qtbot.waitUntil(lambda: "CA file" in pane.verification.text())


def test_a_ca_given_as_pem_text_is_kept(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    lone = appliance("alpha", 1001)
    lone.set_email(EmailConfig(host="relay.example.com", sender="pa@example.com", recipients=["a@example.com"],
                               ca_file=pem))
    fleet = fake_fleet(tmp_path, lone)
    pane = EmailPane(fleet)
    qtbot.addWidget(pane)
    pane.set_appliance(lone.id)
    assert pane.ca_file.text() == "" and "a CA certificate is set" in pane.ca_file.placeholderText()
    assert pane.update_body().ca_file == pem.strip()
