"""A small run of the scrub benchmark, so that it keeps working (the figures are in docs/reliability.md)."""

from __future__ import annotations

import subprocess
import sys

from tests.harness import REPO


def test_scrub_benchmark_runs_and_prints_its_table() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.scrub_bench", "--quick"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "## Scrub" in proc.stdout
    for row in ("pa-agent verify, warm page cache", "serving agent, verify_rate_mb_s 50"):
        assert f"| {row}" in proc.stdout, proc.stdout
