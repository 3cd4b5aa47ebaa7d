"""A small run of each benchmark script, so that they keep working (the figures are in docs/benchmarks.md)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.harness import REPO


@pytest.mark.parametrize(("module", "title", "rows"), [
    ("bench.sync_bench", "## Sync", ["first full sync", "curl, same agent", "resumed sync", "session rows alone",
                                     "incremental, 1 changed session"]),
    ("bench.failover_bench", "## Failover", ["SIGKILL of the primary"]),
    ("bench.console_bench", "## Console", ["start", "responsiveness", "memory"]),
])
def test_benchmark_runs_and_prints_its_table(module: str, title: str, rows: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", module, "--quick"], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert title in proc.stdout
    for row in rows:
        assert f"| {row}" in proc.stdout or f"|   {row}" in proc.stdout, proc.stdout
