"""Console soak (issue #15): the real demo (two agents, mail sink, console window) driven for a long time through
Sync Now, loss of the primary, automatic takeover and the old primary's return, over and over; the console's memory,
Python objects, Qt widgets and the reference count of None are sampled and must stay flat.

    python -m bench.console_soak                 # 30 minutes (the figures in docs/benchmarks.md)
    python -m bench.console_soak --minutes 3     # a short look

The console runs offscreen in this process, exactly as `pa-console --demo` builds it (run_demo with a script)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYSIDE6_OPTION_LAZY", "0")

from bench.common import Table, machine


@dataclass
class Sample:
    minute: float
    cycles: int
    rss_mb: float
    none_refs: int
    objects: int
    widgets: int
    agents_rss_mb: float


def rss_mb(pid: int | str = "self") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        await asyncio.sleep(0.25)
    raise TimeoutError(f"soak: {what} did not happen within {timeout:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sample-s", type=float, default=30.0)
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from pa_console.console.demo import DemoSession, run_demo
    from pa_console.protocol.models import FailoverSettingsUpdate, Role

    samples: list[Sample] = []
    type_counts: list[Counter[str]] = []
    cycles = 0
    started = time.monotonic()

    def sample(session: DemoSession) -> None:
        gc.collect()
        type_counts.append(Counter(type(o).__qualname__ for o in gc.get_objects()))
        running = [a.proc for a in (session.lab.primary, session.lab.backup) if a.proc and a.proc.poll() is None]
        agents = sum(rss_mb(proc.pid) for proc in running)
        samples.append(Sample((time.monotonic() - started) / 60, cycles, rss_mb(), sys.getrefcount(None),
                              len(gc.get_objects()), len(QApplication.allWidgets()), agents))
        print(f"soak: {samples[-1]}", flush=True)

    async def script(session: DemoSession) -> None:
        nonlocal cycles
        fleet, lab = session.fleet, session.lab
        names = {lab.primary.name: lab.primary, lab.backup.name: lab.backup}

        def with_role(role: Role) -> str | None:
            for state in fleet.states.values():
                if state.role == role and state.name in names and state.status.value == "online":
                    return state.id
            return None

        def synced(state_id: str) -> bool:
            health = fleet.state(state_id).health
            return bool(health and health.last_sync_status == "ok")

        await until(lambda: with_role(Role.BACKUP) and synced(with_role(Role.BACKUP) or ""), 180, "the first sync")
        last_sample = 0.0
        sample(session)
        while time.monotonic() - started < args.minutes * 60:
            backup_id = with_role(Role.BACKUP)
            primary_id = with_role(Role.PRIMARY)
            if backup_id is None or primary_id is None:
                await asyncio.sleep(1)
                continue
            # After a takeover the new backup has automatic failover off (as after init): turn it on as an
            # administrator would, with the demo's timings.
            await fleet.client(backup_id).update_failover_settings(FailoverSettingsUpdate(
                auto_failover=True, primary_timeout_s=20, probe_interval_s=1, pull_interval_s=60))
            await fleet.client(backup_id).sync_now()
            await asyncio.sleep(3)
            await until(lambda b=backup_id: synced(b), 120, "Sync Now")
            lost = names[fleet.state(primary_id).name]
            await session.controller.stop_appliance(lost)
            await until(lambda b=backup_id: fleet.state(b).role == Role.PRIMARY, 180, "the takeover")
            await session.controller.start_appliance(lost)
            await until(lambda p=primary_id: fleet.state(p).role == Role.BACKUP
                        and fleet.state(p).status.value == "online", 180, "the old primary's return as backup")
            cycles += 1
            if time.monotonic() - last_sample >= args.sample_s:
                last_sample = time.monotonic()
                sample(session)
        sample(session)

    code = run_demo(argparse.Namespace(theme=None, quit_after=None, screenshot=None), script)
    if len(samples) < 2:
        print("soak: not enough samples", file=sys.stderr)
        return 1
    title = f"Console soak on {machine()}: {args.minutes:g} min, {cycles} cycles of Sync Now, loss, takeover, return"
    table = Table(title, ["minute", "cycles", "console RSS MB", "refs to None", "Python objects", "Qt widgets",
                   "agents RSS MB"])
    every = max(1, len(samples) // 12)
    shown = samples[::every]
    if shown[-1] is not samples[-1]:
        shown.append(samples[-1])
    for s in shown:
        table.add(f"{s.minute:.1f}", s.cycles, f"{s.rss_mb:.0f}", s.none_refs, s.objects, s.widgets,
                  f"{s.agents_rss_mb:.0f}")
    print()
    print(table.render())
    # After the first cycle (caches warm), growth per hour of the second half is what a week would multiply.
    first, last = samples[1] if len(samples) > 2 else samples[0], samples[-1]
    hours = max(1e-9, (last.minute - first.minute) / 60)
    print(f"growth from minute {first.minute:.1f} to {last.minute:.1f}: RSS {last.rss_mb - first.rss_mb:+.1f} MB "
          f"({(last.rss_mb - first.rss_mb) / hours:+.1f} MB/h), refs to None {last.none_refs - first.none_refs:+d}, "
          f"objects {last.objects - first.objects:+d}, widgets {last.widgets - first.widgets:+d}")
    grown = (type_counts[-1] - type_counts[1 if len(type_counts) > 2 else 0]).most_common(8)
    print("most grown object types:", ", ".join(f"{name} +{count}" for name, count in grown) or "none")
    return code


if __name__ == "__main__":
    sys.exit(main())
