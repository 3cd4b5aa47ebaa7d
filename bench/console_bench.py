"""Console benchmarks (issue #7): start to first painted window; event-loop stalls during a big sync; memory with
many appliances.

    python -m bench.console_bench                # 1 GiB sync, 50 appliances
    python -m bench.console_bench --quick        # small sizes (the test suite runs this)

The stall and memory measures run the real console (Fleet, monitors, MainWindow) in this process, offscreen."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYSIDE6_OPTION_LAZY", "0")

from bench.common import REPO, Table, establish_pair, machine, peak_rss_mb, seed, start_and_link
from tests.harness import RunningAgent, start_agent


def startup_seconds(tmp: Path, runs: int) -> list[float]:
    """Process start to the first paint of the main window (the console writes the time it painted)."""
    out = []
    for i in range(runs):
        marker = tmp / f"paint-{i}"
        env = {**os.environ, "PA_CONSOLE_FIRST_PAINT_FILE": str(marker)}
        t0 = time.time()
        proc = subprocess.run([sys.executable, "-m", "pa_console.console.main", "--settings",
                               str(tmp / f"settings-{i}.json")], env=env, cwd=REPO, timeout=60,
                              capture_output=True, text=True)
        assert marker.exists(), proc.stderr
        out.append(float(marker.read_text()) - t0)
    return out


class StallMeter:
    """A 5 ms timer on the Qt event loop; the longest gap between its ticks is the longest stall."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.longest = 0.0
        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = now - self._last
        self._last = now
        self.gaps.append(gap)
        self.longest = max(self.longest, gap)

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()


async def console_with(agents: list[RunningAgent], work: asyncio.Future[object] | None, settle_s: float,
                       tmp: Path) -> tuple[float, float]:
    """Run the real console connected to these agents; returns (longest stall s, peak RSS MB of this process)."""
    from pa_console.console.demo import DemoTokenStore
    from pa_console.console.services.fleet import Fleet
    from pa_console.console.settings import SettingsStore
    from pa_console.console.views.main_window import MainWindow

    fleet = Fleet(SettingsStore(tmp / "console.json"), DemoTokenStore(), poll_interval=2.0)
    window = MainWindow(fleet)
    window.show()
    await fleet.start()
    for agent in agents:
        await fleet.add_appliance(agent.host, agent.port, agent.token, agent.cert_pem)
    await asyncio.sleep(1.0)
    meter = StallMeter()
    meter.start()
    try:
        if work is not None:
            await work
        await asyncio.sleep(settle_s)
    finally:
        meter.timer.stop()
        await fleet.aclose()
        window.close()
    return meter.longest, peak_rss_mb(os.getpid())


def run(args: argparse.Namespace) -> Table:
    tmp = Path(tempfile.mkdtemp(prefix="pa-bench-console-"))
    try:
        return _run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the shared disk: leave nothing behind


def _run(args: argparse.Namespace, tmp: Path) -> Table:
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)  # closing the measured window must not end the event loop
    table = Table("Console", ["what", "measure", "result", "target"])
    starts = startup_seconds(tmp, 1 if args.quick else 5)
    table.add("start", "process start to first painted window, offscreen",
              f"median {statistics.median(starts):.2f} s, max {max(starts):.2f} s", "< 1.5 s")

    recordings = 16 if args.quick else 1024
    primary, backup = establish_pair(tmp / "pair")
    seed(primary, recordings, 1 << 20)
    start_and_link(primary, backup)

    async def big_sync() -> object:
        r = await asyncio.to_thread(backup.request, "POST", "/api/v1/failover/sync")
        assert r.status_code == 202, r.text
        while True:
            h = await asyncio.to_thread(backup.health)
            if h["last_sync_status"] == "ok":
                return h
            if h["last_sync_status"] == "failed":
                raise RuntimeError(h["last_sync"])
            await asyncio.sleep(0.2)

    count = 3 if args.quick else 50

    async def measure() -> tuple[float, float]:
        stall, _ = await console_with([primary, backup], asyncio.ensure_future(big_sync()), 1.0, tmp)
        primary.kill()
        backup.kill()
        fleet_agents = await asyncio.to_thread(
            lambda: [start_agent(tmp / "fleet", f"appliance-{i:02d}") for i in range(count)])
        try:
            _, rss = await console_with(fleet_agents, None, 3.0 if args.quick else 15.0, tmp)
        finally:
            for agent in fleet_agents:
                agent.kill()
        return stall, rss

    stall, rss = qasync.run(measure())
    table.add("responsiveness", f"longest Qt event-loop stall during a {recordings} MiB sync",
              f"{stall * 1000:.0f} ms", "< 50 ms")
    table.add("memory", f"peak RSS of the console with {count} appliances", f"{rss:.0f} MB", "< 250 MB")
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    table = run(args)
    print(f"Machine: {machine()}; load {os.getloadavg()[0]:.1f}")
    print(table.render(), flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    # PySide6 6.12 can crash while the interpreter tears Qt objects down after a run like this one (a refcount error
    # in its finaliser, seen once in five runs); the measures are printed, so leave without that teardown.
    sys.stderr.flush()
    os._exit(code)
