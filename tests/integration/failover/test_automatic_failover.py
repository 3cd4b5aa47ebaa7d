"""Losing the primary with real agents, a real SMTP server and the loopback shared address."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from tests.harness import RunningAgent, SmtpSink, free_port, wait_until
from tests.integration.failover.helpers import events, make_pair, of_type, roles
from tests.integration.sync.pair import sync_now


class Sampler:
    """Polls a backup's health in the background, to see the live fields along the way."""

    def __init__(self, agent: RunningAgent) -> None:
        self.agent = agent
        self.samples: list[dict[str, object]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(self.agent.health())
            except Exception:  # a sample missed is fine
                pass
            time.sleep(0.2)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.mark.timeout(90)
def test_kill_9_of_the_primary_leads_to_countdown_mails_and_takeover(agents: Callable[..., RunningAgent],
                                                                      smtp_sink: SmtpSink) -> None:
    timeout = 5.0
    pair = make_pair(agents, smtp_sink, primary_timeout_s=timeout)
    before = events(pair.backup)[-1]["id"]
    assert pair.backup.health()["failover_in_s"] is None
    with Sampler(pair.backup) as sampler:
        t0 = time.monotonic()
        pair.primary.kill()
        served_at = pair.wait_site("beta", timeout=timeout + 10)
    elapsed = served_at - t0
    print(f"\nshared address served by the backup {elapsed:.2f} s after kill -9 (timeout {timeout} s)")
    assert elapsed <= timeout + 3, elapsed
    assert elapsed >= timeout - 0.5, f"took over before the timeout: {elapsed}"  # the countdown was honoured

    health = pair.backup.health()
    assert health["role"] == "primary" and health["serving_shared_address"] is True
    site = pair.site()
    assert site is not None and site["role"] == "primary" and site["epoch"] == health["epoch"]

    # Health along the way: reachable, then lost with a falling countdown.
    counting = [s["failover_in_s"] for s in sampler.samples if s["failover_in_s"] is not None]
    assert counting and all(isinstance(v, float | int) for v in counting)
    assert counting[0] > counting[-1] and max(counting) <= timeout
    assert any(s["primary_reachable"] is False for s in sampler.samples)
    assert sampler.samples[0]["primary_reachable"] is True

    evs = events(pair.backup, after=before)
    types = [e["type"] for e in evs]
    assert types.index("primary_lost") < types.index("countdown") < types.index("takeover")
    ticks = [e["data"]["failover_in_s"] for e in of_type(evs, "countdown")]
    assert ticks == sorted(set(ticks), reverse=True) and len(ticks) >= 3  # one per second, falling
    assert all(e["data"]["auto_failover"] is True for e in of_type(evs, "countdown"))
    takeover = of_type(evs, "takeover")[0]["data"]
    assert takeover["ok"] is True and [s["step"] for s in takeover["steps"]] == ["role", "shared_address"]
    assert len(of_type(evs, "takeover_step")) == 2

    mail = smtp_sink.wait_for(lambda m: "took over" in m.subject, timeout=10)
    assert "shared_address: done" in mail.body
    subjects = smtp_sink.subjects()
    lost = [s for s in subjects if s.startswith("[pa] Primary alpha lost: failover in")]
    assert len(lost) == 1, subjects
    assert any("still lost" in s for s in subjects), subjects
    assert len(subjects) == len(set(subjects)), f"duplicate mails: {subjects}"
    wait_until(lambda: len(of_type(events(pair.backup, after=before), "mail_sent")) >= 3, timeout=10,
               what="mail_sent events")
    # The dead primary is not coming back in this test: there is one primary.
    assert roles(pair.primary, pair.backup) == [None, "primary"]


@pytest.mark.timeout(90)
def test_a_primary_stopped_for_less_than_the_timeout_causes_no_failover(agents: Callable[..., RunningAgent],
                                                                        smtp_sink: SmtpSink) -> None:
    pair = make_pair(agents, smtp_sink, primary_timeout_s=8)
    before = events(pair.backup)[-1]["id"]
    pair.primary.kill()
    wait_until(lambda: pair.backup.health()["failover_in_s"] is not None, timeout=8, what="the countdown")
    assert pair.backup.health()["primary_reachable"] is False
    pair.primary.start()
    wait_until(lambda: pair.backup.health()["primary_reachable"] is True, timeout=10, what="recovery")
    assert pair.backup.health()["failover_in_s"] is None
    time.sleep(8)  # past the old deadline: nothing may happen
    assert roles(pair.primary, pair.backup) == ["primary", "backup"]
    assert (pair.site() or {}).get("name") == "alpha"
    evs = events(pair.backup, after=before)
    assert len(of_type(evs, "primary_lost")) == 1 and len(of_type(evs, "primary_recovered")) == 1
    assert not of_type(evs, "takeover")
    smtp_sink.wait_for(lambda m: "is back" in m.subject, timeout=10)
    assert not any("took over" in s for s in smtp_sink.subjects())


@pytest.mark.timeout(90)
def test_without_auto_failover_the_backup_waits_and_says_so(agents: Callable[..., RunningAgent],
                                                           smtp_sink: SmtpSink) -> None:
    pair = make_pair(agents, smtp_sink, primary_timeout_s=3, auto_failover=False)
    pair.primary.kill()
    wait_until(lambda: pair.backup.health()["awaiting_manual_failover"], timeout=12, what="awaiting manual")
    assert roles(pair.backup) == ["backup"] and pair.site() is None
    mail = smtp_sink.wait_for(lambda m: "manual failover needed" in m.subject, timeout=10)
    assert "automatic failover is off" in mail.body
    # The administrator turns automatic failover on: the backup, past its timeout already, takes over now.
    r = pair.backup.request("PUT", "/api/v1/failover/settings", json={"auto_failover": True})
    assert r.status_code == 200, r.text
    pair.wait_site("beta", timeout=10)
    assert pair.backup.health()["awaiting_manual_failover"] is False


@pytest.mark.timeout(90)
def test_mail_failures_do_not_stop_the_countdown(agents: Callable[..., RunningAgent], smtp_sink: SmtpSink) -> None:
    dead_smtp = smtp_sink.config() | {"port": free_port()}  # nobody listens there
    pair = make_pair(agents, smtp_sink, primary_timeout_s=3)
    # The email configuration travels with the sync: set on the primary, it is the backup's after the next sync.
    r = pair.primary.request("PUT", "/api/v1/email", json=dead_smtp)
    assert r.status_code == 200, r.text
    assert sync_now(pair.backup)["status"] == "ok"
    assert pair.backup.get("/api/v1/email")["port"] == dead_smtp["port"]
    before = events(pair.backup)[-1]["id"]
    pair.primary.kill()
    pair.wait_site("beta", timeout=15)
    wait_until(lambda: len(of_type(events(pair.backup, after=before), "mail_failed")) >= 2, timeout=20,
               what="mail_failed events")
    failed = of_type(events(pair.backup, after=before), "mail_failed")
    assert all("No SMTP server accepts connections" in e["data"]["error"] for e in failed)  # nobody listens there
    assert {e["data"]["key"] for e in failed} >= {"lost", "takeover"}
