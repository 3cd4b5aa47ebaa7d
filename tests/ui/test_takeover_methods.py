"""DNS swing and NAT swing in the backup settings (issue #9), over fake state: fields, validation as typed, only
what changed is sent, the TSIG secret never comes back into its field, Check results item by item."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from pa_console.console.client.errors import AgentError, ErrorCategory
from pa_console.console.views.failover_pane import FailoverPane
from pa_console.protocol.models import DnsSwing, FailoverSettings, NatSwing, TakeoverMethodCheck
from tests.ui.fakes import client, fake_fleet
from tests.ui.test_failover_pane import Confirm, make_pane
from tests.unit.console.factories import pair

SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg=="
DNS = DnsSwing(server="ns1.example.com", port=53, zone="example.com", record="pa", ttl=60,
               tsig_key_name="pa-swing", tsig_algorithm="hmac-sha256", address="198.51.100.20",
               tsig_secret_set=True)
NAT = NatSwing(command=["/usr/local/bin/nat-swing", "--rule", "pa-https"], address="10.20.0.5", timeout_s=30)


def _backup_pane(qtbot: Any, tmp_path: Path, settings: FailoverSettings | None = None,
                 confirm: Confirm | None = None) -> tuple[FailoverPane, Any, Any]:
    primary, backup = pair()
    if settings is not None:
        backup.set_settings(settings)
    fleet = fake_fleet(tmp_path, primary, backup)
    pane = make_pane(qtbot, fleet, confirm)
    pane.set_appliance(backup.id)
    unfolded = settings is not None and (settings.dns_swing is not None or settings.nat_swing is not None)
    assert pane.settings.methods.isVisible() == unfolded  # folded unless used
    pane.settings.methods_toggle.click()  # these tests edit the methods: unfold them
    if unfolded:
        pane.settings.methods_toggle.click()
    assert pane.settings.methods.isVisible()
    return pane, backup, client(fleet, backup)


def _sent(api: Any) -> dict[str, Any]:
    (body,) = api.called("update_failover_settings")[-1]
    dumped: dict[str, Any] = body.model_dump(mode="json", exclude_unset=True)
    return dumped


def test_fields_are_validated_as_typed(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    pane, _backup, _api = _backup_pane(qtbot, tmp_path)
    form, m = pane.settings, pane.settings.methods
    assert not m.dns_box.isEnabled() and not m.nat_box.isEnabled()
    for w in (m.dns_server, m.dns_port, m.dns_zone, m.dns_record, m.dns_ttl, m.dns_key_name, m.dns_algorithm,
              m.dns_secret, m.dns_address, m.nat_command, m.nat_address, m.nat_timeout, m.check_button):
        assert w.accessibleName()
    assert m.dns_ttl.minimum() == 1 and m.dns_ttl.maximum() == 86_400
    assert m.dns_port.minimum() == 1 and m.dns_port.maximum() == 65535
    assert m.nat_command.tabChangesFocus()
    qtbot.mouseClick(m.dns_enabled, Qt.MouseButton.LeftButton)
    assert m.dns_box.isEnabled() and not form.save_button.isEnabled()
    assert m.dns_errors["server"].isVisible() and m.dns_errors["tsig_secret"].isVisible()
    qtbot.keyClicks(m.dns_server, "not a host!")
    assert "not a host name" in m.dns_errors["server"].text()
    m.dns_server.setText("ns1.example.com")
    assert not m.dns_errors["server"].isVisible()
    m.dns_zone.setText("example.com")
    m.dns_record.setText("pa")
    m.dns_key_name.setText("pa-swing")
    m.dns_address.setText("not-an-ip")
    assert "IP address" in m.dns_errors["address"].text()
    m.dns_address.setText("198.51.100.20")
    m.dns_secret.setText("short")
    assert "base64" in m.dns_errors["tsig_secret"].text() and not form.save_button.isEnabled()
    m.dns_secret.setText(SECRET)
    assert form.save_button.isEnabled()
    m.nat_enabled.setChecked(True)
    assert "one argument per line" in m.nat_errors["command"].text() and not form.save_button.isEnabled()
    m.nat_command.setPlainText("nat-swing\n--rule")
    assert "absolute path" in m.nat_errors["command"].text()
    m.nat_command.setPlainText("/usr/local/bin/nat-swing\n--rule\n\npa https")
    m.nat_address.setText("10.20.0.5")
    assert not m.nat_errors["command"].isVisible() and form.save_button.isEnabled()


def test_new_methods_are_sent_whole_and_the_secret_is_not_echoed(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    pane, backup, api = _backup_pane(qtbot, tmp_path)
    m = pane.settings.methods
    m.dns_enabled.setChecked(True)
    m.dns_server.setText("ns1.example.com")
    m.dns_zone.setText("example.com")
    m.dns_record.setText("pa")
    m.dns_ttl.setValue(120)
    m.dns_key_name.setText("pa-swing")
    m.dns_algorithm.setCurrentText("hmac-sha512")
    m.dns_address.setText("198.51.100.20")
    assert "No secret is stored" in m.dns_secret_hint.text()
    assert m.dns_secret.echoMode() == QLineEdit.EchoMode.Password
    m.dns_secret.setText(SECRET)
    m.nat_enabled.setChecked(True)
    m.nat_command.setPlainText("/usr/local/bin/nat-swing\n--rule\npa https")
    m.nat_address.setText("10.20.0.5")
    saved = FailoverSettings(dns_swing=DNS.model_copy(update={"ttl": 120, "tsig_algorithm": "hmac-sha512"}),
                             nat_swing=NatSwing(command=["/usr/local/bin/nat-swing", "--rule", "pa https"],
                                                address="10.20.0.5"))
    api.answers["update_failover_settings"] = saved
    pane.settings.save_button.click()
    qtbot.waitUntil(lambda: backup.settings == saved)
    body = _sent(api)
    assert set(body) == {"dns_swing", "nat_swing"}  # nothing else changed
    assert body["dns_swing"]["tsig_secret"] == SECRET and body["dns_swing"]["ttl"] == 120
    assert body["dns_swing"]["tsig_algorithm"] == "hmac-sha512"
    assert body["nat_swing"]["command"] == ["/usr/local/bin/nat-swing", "--rule", "pa https"]
    # The secret is write-only: the field is emptied, and the hint says one is stored.
    assert m.dns_secret.text() == ""
    assert "A secret is stored" in m.dns_secret_hint.text()


def test_only_what_changed_is_sent(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    pane, backup, api = _backup_pane(qtbot, tmp_path, FailoverSettings(dns_swing=DNS, nat_swing=NAT))
    form, m = pane.settings, pane.settings.methods
    assert m.dns_server.text() == "ns1.example.com" and m.dns_secret.text() == ""
    assert m.nat_command.toPlainText() == "/usr/local/bin/nat-swing\n--rule\npa-https"
    assert not form.error.isVisible() and not form.is_dirty()  # a stored secret is enough
    assert not form.save_button.isEnabled()  # nothing to apply
    form.save()
    qtbot.waitUntil(lambda: form.save_result.text() == "Nothing changed.")
    assert api.called("update_failover_settings") == []
    m.dns_ttl.setValue(30)
    api.answers["update_failover_settings"] = FailoverSettings(dns_swing=DNS.model_copy(update={"ttl": 30}),
                                                               nat_swing=NAT)
    form.save_button.click()
    qtbot.waitUntil(lambda: len(api.called("update_failover_settings")) == 1)
    body = _sent(api)
    assert set(body) == {"dns_swing"} and body["dns_swing"]["ttl"] == 30
    assert "tsig_secret" not in body["dns_swing"]  # left out: the stored secret is kept
    qtbot.waitUntil(lambda: backup.settings is not None and backup.settings.dns_swing.ttl == 30)  # type: ignore[union-attr]
    # Unticking a method removes it: null.
    m.nat_enabled.setChecked(False)
    api.answers["update_failover_settings"] = FailoverSettings(dns_swing=DNS.model_copy(update={"ttl": 30}))
    form.save_button.click()
    qtbot.waitUntil(lambda: len(api.called("update_failover_settings")) == 2)
    assert _sent(api) == {"nat_swing": None}


def test_agent_errors_appear_next_to_their_field(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    pane, _backup, api = _backup_pane(qtbot, tmp_path, FailoverSettings(dns_swing=DNS, nat_swing=NAT))
    form, m = pane.settings, pane.settings.methods
    m.dns_zone.setText("example.org")
    api.answers["update_failover_settings"] = AgentError(
        ErrorCategory.REQUEST, "dns_swing.zone: the server is not authoritative for it", status_code=422,
        field="dns_swing.zone",
    )
    form.save_button.click()
    qtbot.waitUntil(lambda: m.dns_errors["zone"].isVisible())
    assert "authoritative" in m.dns_errors["zone"].text() and not form.error.isVisible()
    qtbot.keyClicks(m.dns_zone, "x")
    assert not m.dns_errors["zone"].isVisible()
    api.answers["update_failover_settings"] = AgentError(
        ErrorCategory.REQUEST, "The NAT swing program /usr/local/bin/nat-swing does not exist.", status_code=400,
    )
    form.save_button.click()
    qtbot.waitUntil(lambda: m.nat_errors[""].isVisible())
    assert "does not exist" in m.nat_errors[""].text()


def test_check_shows_each_method_and_feeds_the_readiness(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    confirm = Confirm(answer=False)
    pane, backup, api = _backup_pane(qtbot, tmp_path, FailoverSettings(dns_swing=DNS, nat_swing=NAT), confirm)
    m = pane.settings.methods
    checks = [
        TakeoverMethodCheck(method="shared_address", configured=False, ready=False, detail="not configured"),
        TakeoverMethodCheck(method="dns_swing", configured=True, ready=False,
                            detail="the DNS server ns1.example.com port 53 did not answer within 5 s"),
        TakeoverMethodCheck(method="nat_swing", configured=True, ready=True,
                            detail="ready: /usr/local/bin/nat-swing"),
    ]
    api.answers["check_takeover_methods"] = checks
    assert not m.check_results.isVisible()
    m.check_button.click()
    qtbot.waitUntil(lambda: m.check_results.count() == 3)
    texts = [m.check_results.item(i).text() for i in range(3)]
    assert texts[0] == "? Shared address: not configured."
    assert texts[1].startswith("✘ DNS swing is NOT ready: the DNS server") and "did not answer" in texts[1]
    assert texts[2] == "✔ NAT swing: ready: /usr/local/bin/nat-swing."
    assert backup.method_checks == checks
    # The pane's readiness lists each method; the shared address is not needed with a swing.
    shown = [pane.readiness.item(i).text() for i in range(pane.readiness.count())]
    assert any(t.startswith("✘ DNS swing ready") for t in shown)
    assert any(t.startswith("✔ NAT swing ready") for t in shown)
    assert any(t.startswith("✔ Shared address") and "Not used" in t for t in shown)
    # Before a manual failover the check runs again and its items are in the confirmation.
    pane.takeover.become_primary.click()
    qtbot.waitUntil(lambda: bool(confirm.asked))
    assert len(api.called("check_takeover_methods")) == 2
    assert "DNS swing ready: the DNS server ns1.example.com" in confirm.asked[0][1]
    assert api.called("set_role") == []


def test_check_that_cannot_run_says_why(qtbot: Any, aloop: Any, tmp_path: Path) -> None:
    pane, _backup, api = _backup_pane(qtbot, tmp_path, FailoverSettings(nat_swing=NAT))
    m = pane.settings.methods
    api.answers["check_takeover_methods"] = AgentError(ErrorCategory.CONNECTION, "beta does not answer.")
    m.check_button.click()
    qtbot.waitUntil(lambda: m.check_error.isVisible())
    assert "beta does not answer" in m.check_error.text() and m.check_button.isEnabled()
