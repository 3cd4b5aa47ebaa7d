"""Shared pieces of the benchmarks: real agents, timing, peak memory, and the table they print."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.harness import RunningAgent, init_agent, wait_until  # noqa: E402

KEY = "b3" * 32

__all__ = ["KEY", "REPO", "RunningAgent", "Table", "establish_pair", "machine", "peak_rss_mb", "wait_sync",
           "wait_until"]


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), "
            f"Python {platform.python_version()}")


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's peak resident set so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def establish_pair(base: Path) -> tuple[RunningAgent, RunningAgent]:
    """Two initialised appliances with the same key (not yet serving)."""
    base.mkdir(parents=True, exist_ok=True)
    key_file = base / "key"
    key_file.write_text(KEY)
    primary = init_agent(base, "primary", key_file)
    backup = init_agent(base, "backup", key_file)
    return primary, backup


def start_and_link(primary: RunningAgent, backup: RunningAgent, **backup_settings: Any) -> None:
    primary.start()
    backup.start()
    r = backup.request("PUT", "/api/v1/failover/settings", json={"first_sync_delay_s": 86_400, **backup_settings})
    assert r.status_code == 200, r.text
    r = primary.request("POST", "/api/v1/failover/relationship", json={
        "backup": {"host": backup.host, "port": backup.port}, "reverse": {"host": primary.host, "port": primary.port}})
    assert r.status_code == 201, r.text


def wait_sync(backup: RunningAgent, start: bool = True, timeout: float = 1800,
              during: Callable[[], None] | None = None, interval: float = 0.05) -> dict[str, Any]:
    """Start a sync on the backup and wait for its report. Each poll is a new TLS connection (~0.3 s of the bench's
    CPU and some of the backup's per 5 s at 0.05 s): a long sync measured on a 2-core machine polls less often."""
    before = backup.health().get("last_sync")
    if start:
        r = backup.request("POST", "/api/v1/failover/sync")
        assert r.status_code == 202, r.text
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if during is not None:
            during()
        h = backup.health()
        if h["last_sync_status"] != "running" and h.get("last_sync") and h["last_sync"] != before:
            report: dict[str, Any] = h["last_sync"]
            return report
        time.sleep(interval)
    raise TimeoutError("sync did not finish")


def seed(agent: RunningAgent, sessions: int, recording_bytes: int, code: Path = REPO) -> None:
    """`pa-agent seed` of the checkout `code` (`python -m` imports from its working directory)."""
    subprocess.run([sys.executable, "-m", "pa_console.agent", "seed", str(agent.data_dir), "--sessions",
                    str(sessions), "--recording-bytes", str(recording_bytes)], check=True, cwd=code,
                   stdout=subprocess.DEVNULL)


class Table:
    def __init__(self, title: str, columns: list[str]) -> None:
        self.title = title
        self.columns = columns
        self.rows: list[list[str]] = []

    def add(self, *values: Any) -> None:
        self.rows.append([f"{v:.3g}" if isinstance(v, float) else str(v) for v in values])

    def render(self) -> str:
        widths = [max(len(c), *(len(r[i]) for r in self.rows)) if self.rows else len(c)
                  for i, c in enumerate(self.columns)]
        def row(values: list[str]) -> str:
            return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

        lines = [f"## {self.title}", "", row(self.columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        lines += [row(r) for r in self.rows]
        return "\n".join(lines)
