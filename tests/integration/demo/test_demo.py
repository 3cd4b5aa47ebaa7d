"""`pa-console --demo` as a new user runs it: the lab comes up, the console shows it, quitting leaves nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.harness import REPO


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = (Path("/proc") / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{pid}: {cmdline}")
    return found


def test_demo_starts_the_lab_and_leaves_no_process_behind(tmp_path: Path) -> None:
    shot = tmp_path / "demo.png"
    proc = subprocess.run(
        [sys.executable, "-m", "pa_console.console.main", "--demo", "--quit-after", "25", "--screenshot", str(shot)],
        cwd=REPO, capture_output=True, text=True, timeout=180,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    match = re.search(r"lab in (\S+)", proc.stdout)
    assert match, proc.stdout
    base = match.group(1)
    assert shot.exists() and shot.stat().st_size > 10_000
    # The console was connected to both agents, made into a pair, and the first sync had finished well.
    assert "appliance-a online role=primary last_sync=ok" in proc.stdout, proc.stdout
    assert "appliance-b online role=backup last_sync=ok" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stderr
    assert _processes_mentioning(base) == []
    assert not Path(base).exists()
