"""Security and Email panes and connection states against real agents (and a real SMTP server)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pa_console.console.secrets import TokenStore
from pa_console.console.services.fleet import Fleet
from pa_console.console.settings import ApplianceEntry, ConsoleSettings, SettingsStore
from pa_console.console.state.status import ConnectionStatus
from pa_console.protocol.models import Role
from tests.harness import RunningAgent, SmtpSink, free_port
from tests.integration.console.conftest import Console
from tests.ui.fixtures import run


def test_keys_compared_then_made_equal_then_established(console: Console, agents: Callable[..., RunningAgent]) -> None:
    alpha, beta = agents("alpha", "1a" * 32), agents("beta", "2b" * 32)  # two keys that differ
    a, b = console.add(alpha), console.add(beta)
    console.select(a)
    security = console.window.security
    security.other_pick.setCurrentIndex(security.other_pick.findData(b.id))
    security.other_pick.activated.emit(security.other_pick.currentIndex())
    console.wait(lambda: security.verdict.text().startswith("✘ MISMATCH"), 10)
    assert security.this_fp.text() != security.other_fp.text()
    # The establish form refuses before the button is pressed.
    form = console.window.failover.establish
    form.backup.set(beta.host, beta.port)
    assert "differ" in form.key_check.text() and not form.establish_button.isEnabled()
    # An agent's refusal lands next to the field it concerns: nothing listens on this port.
    form.backup.set("127.0.0.1", free_port())
    form.revalidate()
    task = form.establish()
    assert task is not None
    console.wait(task.done, 20)
    assert form.backup.agent_error.isVisible() and not form.reverse.agent_error.isVisible()
    assert str(form.backup.port.value()) in form.backup.agent_error.text()
    form.backup.set(beta.host, beta.port)
    assert not form.backup.agent_error.isVisible()  # edited: the old complaint goes
    # Generate on alpha, apply to beta, without the user seeing the key.
    task = security.generate_and_apply()
    assert task is not None
    console.wait(task.done, 15)
    assert not security.error.isVisible(), security.error.text()
    assert security.verdict.text().startswith("✔ MATCH")
    assert alpha.get("/api/v1/security/key") == beta.get("/api/v1/security/key")
    form.revalidate()
    assert form.establish_button.isEnabled()
    task = form.establish()
    assert task is not None
    console.wait(task.done, 20)
    console.wait(lambda: a.role == Role.PRIMARY and b.role == Role.BACKUP, 15)


def test_email_settings_and_test_mail_to_real_smtp(
    console: Console, agents: Callable[..., RunningAgent], smtp_sink: SmtpSink
) -> None:
    alpha = agents("alpha")
    a = console.add(alpha)
    console.select(a)
    email = console.window.email
    console.wait(lambda: email.host.isEnabled(), 10)
    email.host.setText("127.0.0.1")
    email.port.setValue(smtp_sink.port)
    email.username.setText("")
    email.password.setText("s3cret-pass")
    email.sender_edit.setText("pa@example.com")
    email.recipients.setText("admin@example.com, oncall@example.com")
    task = email.send_test()
    assert task is not None
    console.wait(task.done, 30)
    assert email.answer.text().startswith("Sent."), email.answer.text()
    assert "250" in email.answer.text()
    mail = smtp_sink.wait_for(lambda m: "admin@example.com" in m.recipients, 10)
    assert mail.sender == "pa@example.com" and "oncall@example.com" in mail.recipients
    # The password is write-only: the form is emptied, the console only knows that one is stored.
    assert email.password.text() == ""
    assert "A password is stored" in email.password_state.text()
    config = alpha.get("/api/v1/email")
    assert config["password_set"] is True and "s3cret-pass" not in str(config)


def test_connection_states_recover_by_themselves(
    qtbot: Any, aloop: Any, tmp_path: Any, agents: Callable[..., RunningAgent]
) -> None:
    alpha, beta = agents("alpha"), agents("beta")
    store = SettingsStore(tmp_path / "settings.json")
    good = ApplianceEntry(name="alpha", host=alpha.host, port=alpha.port, cert_pem=alpha.cert_pem)
    bad_token = ApplianceEntry(name="beta-token", host=beta.host, port=beta.port, cert_pem=beta.cert_pem)
    # An appliance whose certificate is not the one trusted (as if replaced by an impostor).
    swapped = ApplianceEntry(name="beta-cert", host=beta.host, port=beta.port, cert_pem=alpha.cert_pem)
    store.save(ConsoleSettings(appliances=[good, bad_token, swapped]))
    tokens = TokenStore()
    for entry, token in ((good, alpha.token), (bad_token, "not-the-token"), (swapped, beta.token)):
        run(aloop, qtbot, tokens.set(entry.id, token))
    fleet = Fleet(store, tokens, poll_interval=0.3)
    try:
        run(aloop, qtbot, fleet.start())
        states = fleet.states
        qtbot.waitUntil(lambda: states[good.id].status == ConnectionStatus.ONLINE, timeout=10_000)
        qtbot.waitUntil(lambda: states[bad_token.id].status == ConnectionStatus.AUTH_PROBLEM, timeout=10_000)
        qtbot.waitUntil(lambda: states[swapped.id].status == ConnectionStatus.TLS_PROBLEM, timeout=10_000)
        qtbot.waitUntil(lambda: "WARNING" in states[swapped.id].status_detail, timeout=10_000)
        assert beta.fingerprint in states[swapped.id].status_detail
        assert "refuses" in states[swapped.id].status_detail
        alpha.kill()
        qtbot.waitUntil(lambda: states[good.id].status == ConnectionStatus.OFFLINE, timeout=10_000)
        alpha.start()
        qtbot.waitUntil(lambda: states[good.id].status == ConnectionStatus.ONLINE, timeout=20_000)
    finally:
        run(aloop, qtbot, fleet.aclose())
