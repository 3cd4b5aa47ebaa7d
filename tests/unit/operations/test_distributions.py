"""The two distributions from one tree: `pa-agent` (appliances, no Qt) and `pa-console` (everything) (issue 16)."""

from __future__ import annotations

import re
import tomllib

from tests.harness import REPO

DESKTOP_ONLY = {"pyside6", "pyside6-essentials", "shiboken6", "qasync", "keyring", "jeepney", "httpx", "platformdirs",
                "aiosmtpd"}


def _names(requirements: list[str]) -> list[str]:
    return [re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower() for r in requirements]


def _project(path: str) -> dict[str, object]:
    project: dict[str, object] = tomllib.loads((REPO / path).read_text())["project"]
    return project


def test_the_agent_distribution_needs_nothing_of_the_desktop() -> None:
    agent = _project("packaging/agent/pyproject.toml")
    root = _project("pyproject.toml")
    agent_deps, root_deps = list(agent["dependencies"]), list(root["dependencies"])  # type: ignore[call-overload]
    assert not DESKTOP_ONLY & set(_names(agent_deps))
    # The root's first group is the agent's, the same lines in the same order (one list to keep up to date).
    assert root_deps[:len(agent_deps)] == agent_deps
    assert set(_names(root_deps[len(agent_deps):])) <= DESKTOP_ONLY
    assert agent["version"] == root["version"] and agent["license"] == root["license"] == "LicenseRef-Proprietary"
    assert agent["scripts"] == {"pa-agent": "pa_console.agent.cli:main"}


def test_the_agent_distribution_ships_no_console_code() -> None:
    config = tomllib.loads((REPO / "packaging/agent/pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert include == ["pa_console", "pa_console.protocol*", "pa_console.agent*"]


def test_license_file_and_spdx_string() -> None:
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert root["project"]["license"] == "LicenseRef-Proprietary"
    assert root["project"]["license-files"] == ["LICENSE"] and (REPO / "LICENSE").is_file()
    assert any(r.startswith("setuptools>=77") for r in root["build-system"]["requires"])
    manifest = (REPO / "MANIFEST.in").read_text().split()
    for folder in ("tests", "docs", "packaging"):
        assert f"{folder}" in manifest
