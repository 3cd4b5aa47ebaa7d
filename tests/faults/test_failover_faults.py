"""Failover through a faulty network (issue 8 with issue 4's monitor): a short stall of the primary is no lost
primary, and after a partition heals there are never two primaries.

The backup's probes travel through the fault proxy in front of the primary; with `proxy_both_ways` the primary's
calls to the backup (its split-brain guard) travel through a second proxy, so the two can be cut apart fully."""

from __future__ import annotations

import random
import ssl
import threading
import time
from typing import Any

import httpx

from tests.faults.support import EventWatcher, Pair, configure, make_pair
from tests.harness import RunningAgent, free_port, wait_until
from tests.integration.sync.pair import sync_now

TIMEOUT_S = 6.0


def _shared() -> dict[str, Any]:
    address = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
    return {"driver": "loopback", "address": address, "port": free_port(address)}


def _failover_pair(agents, both_ways: bool) -> tuple[Pair, dict[str, Any]]:  # type: ignore[no-untyped-def]
    shared = _shared()
    pair = make_pair(agents, proxy_both_ways=both_ways, auto_failover=True, primary_timeout_s=TIMEOUT_S,
                     probe_interval_s=0.5, shared_address=shared)
    configure(pair.primary, shared_address=shared, probe_interval_s=0.5)
    # A complete copy first: a backup without one never takes over automatically (issue 13).
    assert sync_now(pair.backup)["status"] == "ok"
    wait_until(lambda: pair.primary.health()["serving_shared_address"], timeout=20, what="the primary to serve")
    wait_until(lambda: pair.backup.health()["primary_reachable"] is True, timeout=20, what="the first probe")
    return pair, shared


def _site_name(shared: dict[str, Any], *agents: RunningAgent) -> str | None:
    ctx = ssl.create_default_context(cadata="".join(a.cert_pem for a in agents))
    ctx.check_hostname = False
    try:
        r = httpx.get(f"https://{shared['address']}:{shared['port']}/site", verify=ctx, timeout=2)
        return str(r.json()["name"])
    except httpx.HTTPError:
        return None


class RoleSampler:
    """Samples both agents' roles a few times a second in a thread: what a client would have seen."""

    def __init__(self, *agents: RunningAgent) -> None:
        self.agents = agents
        self.samples: list[tuple[float, tuple[str, ...], tuple[Any, ...]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RoleSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                hs = [a.health() for a in self.agents]
            except (httpx.HTTPError, AssertionError):
                continue
            self.samples.append((time.monotonic(), tuple(h["role"] for h in hs),
                                 tuple(h.get("primary_reachable") for h in hs)))
            time.sleep(0.15)


def test_a_stall_shorter_than_the_timeout_is_no_failover_a_longer_one_is(agents) -> None:  # type: ignore[no-untyped-def]
    pair, shared = _failover_pair(agents, both_ways=True)
    p, b = pair.primary, pair.backup
    assert pair.to_backup is not None
    seen: list[str] = []
    watcher = EventWatcher(b, lambda etype, _data: seen.append(etype)).start()
    try:
        with RoleSampler(p, b) as sampler:
            # The link goes silent both ways (processes alive): no probe answers, no heartbeat arrives.
            pair.to_primary.stall()
            pair.to_backup.stall()
            time.sleep(TIMEOUT_S - 2.5)
            pair.to_primary.heal()
            pair.to_backup.heal()
            wait_until(lambda: b.health()["primary_reachable"] is True, timeout=10, what="the primary back")
            time.sleep(TIMEOUT_S)  # well past the moment the countdown would have ended
        # The stall was noticed (else this test proves nothing)...
        assert any(s[2][1] is False for s in sampler.samples), "the backup never saw the primary unreachable"
        # ...but nobody took over: the countdown was cancelled.
        assert all(s[1] == ("primary", "backup") for s in sampler.samples), sampler.samples
        assert b.health()["failover_in_s"] is None and "takeover" not in seen
        assert _site_name(shared, p, b) == "primary"

        # Control: the same stall, longer than the timeout, is a lost primary, and the backup takes over.
        pair.to_primary.stall()
        pair.to_backup.stall()
        wait_until(lambda: b.health()["role"] == "primary", timeout=TIMEOUT_S + 15, what="the takeover")
    finally:
        watcher.stop()
        pair.stop()


def test_no_two_primaries_after_a_partition_heals(agents) -> None:  # type: ignore[no-untyped-def]
    pair, shared = _failover_pair(agents, both_ways=True)
    p, b = pair.primary, pair.backup
    assert pair.to_backup is not None
    epoch_before = p.health()["epoch"]
    demoted: list[dict[str, Any]] = []
    watcher = EventWatcher(p, lambda etype, data: demoted.append(data) if etype == "demoted" else None).start()
    try:
        # Full partition: each side believes the other is gone.
        pair.to_primary.partition("both")
        pair.to_backup.partition("both")
        wait_until(lambda: b.health()["role"] == "primary", timeout=TIMEOUT_S + 15, what="the backup's takeover")
        # Data written on the old primary during the split must be kept aside, not silently lost.
        p.seed(3, 100)
        assert b.health()["epoch"] > epoch_before
        pair.to_primary.heal()
        pair.to_backup.heal()
        healed = time.monotonic()
        wait_until(lambda: p.health()["role"] == "backup", timeout=20, what="the old primary to demote itself")
        settle = time.monotonic() - healed
        with RoleSampler(p, b) as sampler:
            time.sleep(4)
        assert sampler.samples and all(s[1] == ("backup", "primary") for s in sampler.samples), sampler.samples
        assert settle < 10, settle
        wait_until(lambda: _site_name(shared, p, b) == "backup", timeout=15, what="the site served by the new primary")
        wait_until(lambda: demoted, timeout=5, what="the demoted event")
        assert demoted[0]["kept"], demoted
    finally:
        watcher.stop()
        pair.stop()


def test_an_old_primary_that_cannot_call_out_fences_on_the_new_primarys_heartbeat(agents) -> None:  # type: ignore[no-untyped-def]
    """A one-way cut after a takeover: the old primary's own calls to the backup fail (so its heartbeats never
    learn anything), but the new primary's heartbeats reach it, saying "primary at a higher epoch". It must fence on
    them: before, two primaries went on for as long as the cut lasted."""
    pair, shared = _failover_pair(agents, both_ways=True)
    p, b = pair.primary, pair.backup
    assert pair.to_backup is not None
    try:
        pair.to_primary.partition("both")
        pair.to_backup.partition("both")
        wait_until(lambda: b.health()["role"] == "primary", timeout=TIMEOUT_S + 15, what="the backup's takeover")
        pair.to_primary.heal()  # the new primary reaches the old one; the old one still cannot call out
        healed = time.monotonic()
        wait_until(lambda: p.health()["role"] == "backup", timeout=20, what="the old primary to fence")
        print(f"\nfenced {time.monotonic() - healed:.2f} s after the new primary could reach it")
        with RoleSampler(p, b) as sampler:
            time.sleep(2)
        assert sampler.samples and all(s[1] == ("backup", "primary") for s in sampler.samples), sampler.samples
        wait_until(lambda: _site_name(shared, p, b) == "backup", timeout=15, what="the site served by the new primary")
    finally:
        pair.stop()
