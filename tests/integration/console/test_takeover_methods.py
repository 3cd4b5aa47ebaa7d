"""DNS swing and NAT swing set through the console's backup settings on a real pair, read back from the agent
(the TSIG secret never returned), and checked by the agent's dry run, shown in words (issue #9)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.harness import RunningAgent
from tests.integration.console.conftest import KEY, Console
from tests.integration.sync.pair import establish

SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg=="


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens there now: a connection is refused at once


def test_swings_saved_through_the_form_and_checked(
    console: Console, agents: Callable[..., RunningAgent], qtbot: Any, tmp_path: Path
) -> None:
    alpha, beta = agents("alpha", KEY), agents("beta", KEY)
    establish(alpha, beta)
    console.add(alpha)
    b = console.add(beta)
    console.select(b)
    form = console.window.failover.settings
    m = form.methods
    hook = tmp_path / "nat-swing.sh"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    dns_port = _closed_port()
    # NAT swing: the command one argument per line.
    m.nat_enabled.setChecked(True)
    qtbot.keyClicks(m.nat_command, f"{hook}")
    m.nat_command.appendPlainText("--rule\npa https")
    qtbot.keyClicks(m.nat_address, "127.0.0.1")
    m.nat_timeout.setValue(10)
    # DNS swing.
    m.dns_enabled.setChecked(True)
    qtbot.keyClicks(m.dns_server, "127.0.0.1")
    m.dns_port.setValue(dns_port)
    qtbot.keyClicks(m.dns_zone, "example.test")
    qtbot.keyClicks(m.dns_record, "pa")
    m.dns_ttl.setValue(30)
    qtbot.keyClicks(m.dns_key_name, "pa-swing")
    qtbot.keyClicks(m.dns_secret, SECRET)
    qtbot.keyClicks(m.dns_address, "127.0.0.1")
    assert form.save_button.isEnabled(), [e.text() for e in (*m.dns_errors.values(), *m.nat_errors.values())]
    form.save_button.click()
    console.wait(lambda: b.settings is not None and b.settings.dns_swing is not None, 15)
    assert not form.error.isVisible()
    # The agent has them; the secret is never returned, only that one is set.
    r = beta.request("GET", "/api/v1/failover/settings")
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["nat_swing"]["command"] == [str(hook), "--rule", "pa https"]
    assert got["nat_swing"]["timeout_s"] == 10
    dns = got["dns_swing"]
    assert (dns["server"], dns["port"], dns["zone"], dns["record"], dns["ttl"]) == (
        "127.0.0.1", dns_port, "example.test", "pa", 30)
    assert dns["tsig_key_name"] == "pa-swing" and dns["tsig_secret_set"] is True
    assert "tsig_secret" not in dns and SECRET not in r.text
    # ...nor put back into the field; the hint says it is stored.
    console.wait(lambda: "A secret is stored" in m.dns_secret_hint.text(), 5)
    assert m.dns_secret.text() == ""
    # Check: the NAT hook exists and is executable; nothing answers DNS on that port.
    m.check_button.click()
    console.wait(lambda: m.check_results.count() >= 3, 20)
    lines = [m.check_results.item(i).text() for i in range(m.check_results.count())]
    nat = next(t for t in lines if "NAT swing" in t)
    dns_line = next(t for t in lines if "DNS swing" in t)
    assert nat.startswith("✔ NAT swing: ready"), lines
    assert dns_line.startswith("✘ DNS swing is NOT ready: ") and str(dns_port) in dns_line, lines
    # The pane's readiness for failover shows the same, item by item.
    readiness = console.window.failover.readiness
    shown = [readiness.item(i).text() for i in range(readiness.count())]
    assert any(t.startswith("✘ DNS swing ready") for t in shown), shown
    assert any(t.startswith("✔ NAT swing ready") for t in shown), shown


def test_automatic_failover_blocked_is_said_from_the_agents_words(
    console: Console, agents: Callable[..., RunningAgent], qtbot: Any
) -> None:
    """Automatic failover on, but the only takeover method (a DNS swing) cannot work: the console says blocked and
    why, asks for a manual failover, and never counts down to a takeover that will not happen (issue 15)."""
    alpha, beta = agents("alpha", KEY), agents("beta", KEY)
    establish(alpha, beta)
    dns = {"server": "127.0.0.1", "port": _closed_port(), "zone": "example.test", "record": "pa",
           "tsig_key_name": "pa-swing", "tsig_secret": SECRET, "address": "127.0.0.1", "timeout_s": 1}
    r = beta.request("PUT", "/api/v1/failover/settings", json={
        "auto_failover": True, "primary_timeout_s": 6, "probe_interval_s": 0.3, "dns_swing": dns})
    assert r.status_code == 200, r.text
    console.add(alpha)
    b = console.add(beta)
    console.select(b)
    box = console.window.failover.takeover
    alpha.kill()
    console.wait(lambda: "manual failover needed (automatic failover blocked: " in box.countdown.text(), 30)
    assert not box.big_countdown.isVisible()
    readiness = console.window.failover.readiness
    console.wait(lambda: any(readiness.item(i).text().startswith("✘ Automatic failover: blocked (")
                             for i in range(readiness.count())), 10)
    banner = console.window.banner
    console.wait(lambda: any("manual failover needed (automatic failover blocked" in t for t in banner.texts()), 10)
    assert banner.label.property("role") == "banner-error"
