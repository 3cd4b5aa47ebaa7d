"""The `pa-console` entry point starts, paints its window and quits by itself (no agents needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_console_starts_paints_and_quits(tmp_path: Path) -> None:
    shot = tmp_path / "window.png"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHON_KEYRING_BACKEND": "tests.ui.memory_keyring.MemoryKeyring",
        "PYTHONPATH": str(REPO),
    }
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pa_console.console.main",
            "--settings",
            str(tmp_path / "settings.json"),
            "--theme",
            "dark",
            "--quit-after",
            "1",
            "--screenshot",
            str(shot),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert shot.stat().st_size > 1000
    version = subprocess.run(
        [sys.executable, "-m", "pa_console.console.main", "--version"], capture_output=True, text=True, timeout=30
    )
    assert version.stdout.startswith("pa-console ")
