"""The agent-only PyInstaller bundle for appliances holds no Qt and runs (long: about a minute of CPU)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import REPO


@pytest.mark.long
@pytest.mark.timeout(900)
@pytest.mark.skipif(importlib.util.find_spec("PyInstaller") is None, reason="PyInstaller is not installed")
def test_agent_bundle_has_no_qt(tmp_path: Path) -> None:
    work = tmp_path / "tree"
    shutil.copytree(REPO, work, ignore=shutil.ignore_patterns(".venv", ".git", "dist", "build", "*.egg-info",
                                                               "__pycache__", ".*_cache"))
    env = {**os.environ, "PYTHON": str(Path(sys.executable))}
    proc = subprocess.run(["bash", "packaging/build_bundle.sh", "--agent"], cwd=work, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0 and "agent only" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    bundle = work / "dist/pa-agent"
    assert not [p for p in bundle.rglob("*") if "qt6" in p.name.lower() or p.name in ("PySide6", "shiboken6")]
    assert sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file()) < 150 * 1024 * 1024
