"""Scrub benchmark (issue 14): how fast `pa-agent verify` re-reads a store, its peak memory, and what a serving
agent's throttled scrub costs the API.

    python -m bench.scrub_bench            # 200 MB in 100 recordings, and one 100 MB recording
    python -m bench.scrub_bench --quick    # 20 MB (the test suite runs this)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, Table, establish_pair, machine, seed, start_and_link, wait_sync
from tests.harness import RunningAgent, init_agent, wait_until


def _drop_from_page_cache(path: Path) -> None:
    """Only this store's pages leave the cache (the machine is shared: no global drop_caches)."""
    for p in (path, path.with_name(path.name + "-wal")):
        if p.exists():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def _cli_verify(data_dir: Path) -> tuple[dict[str, Any], float]:
    """One `pa-agent verify --json` in a child; returns its report and its peak RSS (MB, from GNU time)."""
    rss_file = data_dir / "verify.rss"
    time_bin = shutil.which("time") or "/usr/bin/time"
    proc = subprocess.run([time_bin, "-f", "%M", "-o", str(rss_file), sys.executable, "-m", "pa_console.agent",
                           "verify", str(data_dir), "--json"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout), int(rss_file.read_text().split()[-1]) / 1024


def _health_latencies(agent: RunningAgent, seconds: float) -> list[float]:
    out: list[float] = []
    with agent.client(timeout=10) as c:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.monotonic()
            assert c.get("/api/v1/failover/health").status_code == 200
            out.append((time.monotonic() - t0) * 1000)
            time.sleep(0.05)
    return out


def _served_scrub(agent: RunningAgent, rate_mb_s: float, measure_api: bool) -> tuple[dict[str, Any], list[float]]:
    r = agent.request("PUT", "/api/v1/failover/settings", json={"verify_rate_mb_s": rate_mb_s})
    assert r.status_code == 200, r.text
    r = agent.request("POST", "/api/v1/site/verify")
    assert r.status_code == 202 and r.json()["started"], r.text
    scrub_id = r.json()["id"]
    latencies: list[float] = []

    def done() -> dict[str, Any] | None:
        if measure_api:
            latencies.extend(_health_latencies(agent, 0.5))
        last = agent.get("/api/v1/site/verify")["last"]
        return last if last and last["id"] == scrub_id else None

    report: dict[str, Any] = wait_until(done, timeout=900, interval=0.2, what="the scrub")
    return report, latencies


def _sync_rows(base: Path, table: Table, count: int, each: int) -> None:
    """Does a scrub starve the sync? An incremental sync of count/2 new recordings, alone and while both
    appliances scrub at the default rate."""
    primary, backup = establish_pair(base)
    seed(primary, count, each)
    start_and_link(primary, backup)
    try:
        wait_sync(backup)
        for scrubbing in (False, True, False):  # alone on both sides of it: the first one warms up
            seed(primary, count // 2, each)
            if scrubbing:
                for agent in (primary, backup):
                    r = agent.request("POST", "/api/v1/site/verify")
                    assert r.status_code == 202 and r.json()["started"], r.text
            report = wait_sync(backup)
            assert report["status"] == "ok", report
            busy = [a.get("/api/v1/site/verify")["running"] is not None for a in (primary, backup)]
            mb = count // 2 * each / 1e6
            table.add("incremental sync" + (", both appliances scrubbing at 50 MB/s" if scrubbing else ", alone"),
                      f"{mb:.0f} MB", f"{report['duration_s']:.2f} s", f"{mb / report['duration_s']:.0f} MB/s",
                      f"still scrubbing when it ended: {busy}" if scrubbing else "")
    finally:
        for agent in (primary, backup):
            agent.terminate()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count, each, big = (10, 2_000_000, 10_000_000) if args.quick else (100, 2_000_000, 100_000_000)
    base = Path(tempfile.mkdtemp(prefix="pa-bench-scrub-"))
    table = Table("Scrub", ["what", "data", "time", "throughput", "peak RSS / API"])
    try:
        agent = init_agent(base, "alpha")
        seed(agent, count, each)
        mb = count * each / 1e6
        db = agent.data_dir / "site.db"
        report, rss = _cli_verify(agent.data_dir)
        table.add("pa-agent verify, warm page cache", f"{mb:.0f} MB, {count} recordings",
                  f"{report['duration_s']:.2f} s", f"{report['rate_mb_s']:.0f} MB/s", f"{rss:.0f} MB")
        _drop_from_page_cache(db)
        report, rss = _cli_verify(agent.data_dir)
        table.add("pa-agent verify, store not in the page cache", f"{mb:.0f} MB", f"{report['duration_s']:.2f} s",
                  f"{report['rate_mb_s']:.0f} MB/s", f"{rss:.0f} MB")
        big_agent = init_agent(base, "beta")
        seed(big_agent, 1, big)
        report, rss = _cli_verify(big_agent.data_dir)
        table.add("pa-agent verify, one big recording", f"{big / 1e6:.0f} MB in 1 recording",
                  f"{report['duration_s']:.2f} s", f"{report['rate_mb_s']:.0f} MB/s", f"{rss:.0f} MB")

        agent.start()
        idle = _health_latencies(agent, 2.0)
        for rate in (50.0, 10_000.0):
            served, latencies = _served_scrub(agent, rate, measure_api=rate > 1000)
            api = (f"health p50 {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms "
                   f"(idle: p50 {statistics.median(idle):.0f}, max {max(idle):.0f})") if latencies else ""
            table.add(f"serving agent, verify_rate_mb_s {rate:g}", f"{mb:.0f} MB", f"{served['duration_s']:.2f} s",
                      f"{served['bytes_checked'] / 1e6 / served['duration_s']:.0f} MB/s", api)
        agent.terminate()
        _sync_rows(base / "pair", table, count, each)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"Machine: {machine()}")
    print(table.render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
