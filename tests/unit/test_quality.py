"""The codebase's own gates, run with the suite so CI enforces them: ruff, mypy --strict, import contracts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        pytest.fail(f"{name} is not installed; install the test extras: pip install -e '.[test]'")
    return path


def test_ruff_is_clean() -> None:
    paths = [p for p in ("pa_console", "tests", "bench") if (REPO / p).exists()]
    proc = _run(_tool("ruff"), "check", *paths)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_is_clean() -> None:
    proc = _run(_tool("mypy"), "pa_console")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_import_contracts_hold() -> None:
    """Qt stays in the console's views; the agent and the console never import each other."""
    proc = _run(_tool("lint-imports"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_views_do_no_io() -> None:
    """Views bind to state and ask the services (Fleet, ApplianceCommands); they never call an agent's client,
    a socket or a file themselves."""
    import ast

    offenders: list[str] = []
    for path in sorted((REPO / "pa_console" / "console" / "views").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client":
                offenders.append(f"{path.name}:{node.lineno} calls .client()")
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                offenders += [f"{path.name}:{node.lineno} imports {n}" for n in names
                              if n.split(".")[0] in ("httpx", "socket", "ssl", "aiohttp", "sqlite3")
                              or n.startswith("pa_console.console.client.agent_client")]
    assert offenders == []
