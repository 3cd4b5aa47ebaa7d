"""A forced takeover asked just as the automatic one happens (real agents, the primary frozen with SIGSTOP so that
the forced request's ping hangs while the countdown ends). The request checked the role before waiting for the
transition lock, not after, so it promoted a second time: epoch +2 and a second takeover reported."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from tests.harness import RunningAgent, SmtpSink, wait_until
from tests.integration.failover.helpers import events, make_pair, of_type


@pytest.mark.timeout(120)
def test_a_forced_takeover_during_the_automatic_one_takes_over_once(agents: Callable[..., RunningAgent],
                                                                    smtp_sink: SmtpSink) -> None:
    pair = make_pair(agents, smtp_sink, primary_timeout_s=6)
    alpha, beta = pair.primary, pair.backup
    before = events(beta)[-1]["id"]
    assert alpha.proc is not None
    alpha.proc.send_signal(signal.SIGSTOP)  # connections to it hang: the forced request's ping waits 3 s
    try:
        # Ask when the countdown is about to end: the automatic takeover happens while the ping hangs.
        wait_until(lambda: (beta.health()["failover_in_s"] or 99) <= 1.5, timeout=30, interval=0.05,
                   what="the countdown's last 1.5 s")
        r = beta.request("POST", "/api/v1/failover/role", json={"role": "primary", "force": True})
        assert r.status_code == 200, r.text
        assert beta.health()["role"] == "primary"
        takeovers = of_type(events(beta, after=before), "takeover")
        assert len(takeovers) == 1, (takeovers, r.json())
        epochs = [e["data"]["epoch"] for e in of_type(events(beta, after=before), "role_changed")]
        assert len(epochs) == 1, (epochs, r.json())
    finally:
        alpha.proc.send_signal(signal.SIGCONT)
        alpha.kill()
