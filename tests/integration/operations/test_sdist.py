"""What a distribution packager gets from `python -m build`: the sdist holds tests, docs, packaging and LICENSE."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.harness import REPO


@pytest.mark.skipif(importlib.util.find_spec("build") is None, reason="the 'build' package is not installed")
@pytest.mark.timeout(600)
def test_sdist_holds_what_a_packager_needs(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path), str(REPO)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (sdist,) = tmp_path.glob("pa_console-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
        pkg_info = tar.extractfile(next(n for n in tar.getnames() if n.endswith("/PKG-INFO")))
        assert pkg_info is not None
        metadata = pkg_info.read().decode()
    for needed in ("LICENSE", "README.md", "pyproject.toml", "MANIFEST.in", "tests/conftest.py", "tests/harness.py",
                   "docs/failover-methods.md", "packaging/systemd/pa-agent.service",
                   "packaging/linux/pa-console.desktop", "packaging/agent/pyproject.toml",
                   "packaging/pyinstaller/pa-agent.spec", "pa_console/agent/cli.py"):
        assert needed in names, needed
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert "License-Expression: LicenseRef-Proprietary" in metadata and "License-File: LICENSE" in metadata
