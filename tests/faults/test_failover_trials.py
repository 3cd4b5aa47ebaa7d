"""Many failover trials (issue 13's Jepsen-style check): over PA_TRIALS trials each (default 20), the longest
two-primary window seen in `health` and the acknowledged writes lost. Results go to stdout and, as JSON, to
PA_TRIALS_OUT-<kind>.json if PA_TRIALS_OUT is set; docs/reliability.md records a run.

- pause: SIGSTOP the primary past the timeout (writes acknowledged while frozen), SIGCONT under a hammer of writes;
- partition: cut both ways through the relays, writes acknowledged by the old primary meanwhile, heal."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.faults.support import configure
from tests.faults.support import make_pair as make_relayed_pair
from tests.harness import RunningAgent, SmtpSink, free_port, wait_until
from tests.integration.failover.helpers import make_pair
from tests.integration.failover.trials import TrialResult, partition_trial, pause_trial
from tests.integration.sync.pair import sync_now

PROBE_S = 0.5


def _summarise(kind: str, results: list[TrialResult]) -> dict[str, Any]:
    summary = {
        "kind": kind,
        "trials": len(results),
        "longest_two_primary_window_s": round(max(r.window_s for r in results), 3),
        "trials_with_two_primaries_seen": sum(1 for r in results if r.both_primary_samples),
        "acknowledged_sessions": sum(r.acked_sessions for r in results),
        "acknowledged_email_writes": sum(r.acked_writes for r in results),
        "refused_writes": sum(r.refused_writes for r in results),
        "acknowledged_writes_lost": sum(len(r.lost) for r in results),
        "refused_then_acknowledged": sum(r.refused_then_acked for r in results),
    }
    print(json.dumps(summary, indent=1))
    if out := os.environ.get("PA_TRIALS_OUT"):
        Path(f"{out}-{kind}.json").write_text(json.dumps(
            {"summary": summary, "trials": [dataclasses.asdict(r) for r in results]}, indent=1))
    assert summary["acknowledged_writes_lost"] == 0, [r.lost for r in results if r.lost]
    assert summary["refused_then_acknowledged"] == 0
    assert summary["longest_two_primary_window_s"] <= PROBE_S + 2
    return summary


@pytest.mark.long
@pytest.mark.timeout(3600)
def test_many_pause_trials_lose_no_acknowledged_write(agents: Callable[..., RunningAgent],
                                                      smtp_sink: SmtpSink) -> None:
    trials = int(os.environ.get("PA_TRIALS", "20"))
    pair = make_pair(agents, smtp_sink, primary_timeout_s=4, probe_interval_s=PROBE_S)
    pair.primary.seed(1000)
    primary, backup = pair.primary, pair.backup
    results = []
    for n in range(trials):
        results.append(pause_trial(primary, backup, smtp_sink, f"t{n}-"))
        print(f"pause trial {n + 1}/{trials}: {results[-1]}", flush=True)
        primary, backup = backup, primary
    _summarise("pause", results)


@pytest.mark.long
@pytest.mark.timeout(3600)
def test_many_partition_trials_lose_no_acknowledged_write(agents: Callable[..., RunningAgent],
                                                          smtp_sink: SmtpSink) -> None:
    trials = int(os.environ.get("PA_TRIALS", "20"))
    address = "127.0.0.77"
    shared = {"driver": "loopback", "address": address, "port": free_port(address)}
    pair = make_relayed_pair(agents, proxy_both_ways=True, auto_failover=True, primary_timeout_s=4,
                             probe_interval_s=PROBE_S, shared_address=shared)
    configure(pair.primary, auto_failover=True, primary_timeout_s=4, shared_address=shared, probe_interval_s=PROBE_S)
    pair.primary.seed(1000)
    assert sync_now(pair.backup)["status"] == "ok"
    wait_until(lambda: pair.backup.health()["primary_reachable"] is True, timeout=20, what="the first probe")
    assert pair.to_backup is not None
    links = [pair.to_primary, pair.to_backup]
    primary, backup = pair.primary, pair.backup
    results = []
    try:
        for n in range(trials):
            results.append(partition_trial(primary, backup, links, smtp_sink, f"p{n}-"))
            print(f"partition trial {n + 1}/{trials}: {results[-1]}", flush=True)
            primary, backup = backup, primary
    finally:
        pair.stop()
    _summarise("partition", results)
