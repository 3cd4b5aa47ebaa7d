"""Many pause trials (issue 13's Jepsen-style check): over PA_TRIALS trials (default 20), the longest two-primary
window seen in `health` and the acknowledged writes lost. Results go to stdout and to PA_TRIALS_OUT (JSON) if set;
docs/reliability.md records a run."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.harness import RunningAgent, SmtpSink
from tests.integration.failover.helpers import make_pair
from tests.integration.failover.trials import pause_trial

PROBE_S = 0.5


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
        result = pause_trial(primary, backup, smtp_sink, f"t{n}-")
        print(f"trial {n + 1}/{trials}: {result}", flush=True)
        results.append(result)
        primary, backup = backup, primary
    summary = {
        "trials": trials,
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
        Path(out).write_text(json.dumps({"summary": summary, "trials": [dataclasses.asdict(r) for r in results]},
                                        indent=1))
    assert summary["acknowledged_writes_lost"] == 0, [r.lost for r in results if r.lost]
    assert summary["refused_then_acknowledged"] == 0
    assert summary["longest_two_primary_window_s"] <= PROBE_S + 2
