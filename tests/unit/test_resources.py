"""Resources (icons, style sheets) and the Linux/systemd packaging metadata; no Qt, no network."""

from __future__ import annotations

import configparser
import re
import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pa_console import resources
from pa_console.resources import (
    APP_ICON,
    STATUS_ICONS,
    ResourceNotFoundError,
    UnknownIconError,
    icon_path,
    resource_path,
    style_sheet,
)

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
SVG_NS = "{http://www.w3.org/2000/svg}"

# Spelled out rather than taken from STATUS_ICONS, so that dropping a name from the module fails here.
EXPECTED_STATUS_ICONS = [
    "online",
    "offline",
    "connecting",
    "tls-problem",
    "auth-problem",
    "primary",
    "backup",
    "standalone",
    "syncing",
    "in-sync",
    "behind",
    "broken",
    "primary-lost",
    "warning",
    "ok",
    "error",
]


@pytest.fixture(autouse=True)
def _not_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    # A test runner started from a bundle would otherwise send every lookup to the bundle.
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)


def _fake_resources(root: Path) -> Path:
    """A minimal resources folder: the marker icon and one style sheet."""
    (root / "icons").mkdir(parents=True)
    (root / "icons" / f"{APP_ICON}.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (root / "styles").mkdir()
    (root / "styles" / "dark.qss").write_text("QWidget { color: red; }")
    return root


# ---- icons ------------------------------------------------------------------------------------------


def test_status_icon_list_matches_the_module() -> None:
    assert list(STATUS_ICONS) == EXPECTED_STATUS_ICONS


@pytest.mark.parametrize("name", [APP_ICON, *EXPECTED_STATUS_ICONS])
def test_icon_exists_and_is_svg_with_a_view_box(name: str) -> None:
    path = icon_path(name)
    assert path.is_file()
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg"
    view_box = [float(v) for v in root.attrib["viewBox"].split()]
    assert len(view_box) == 4
    assert view_box[2] == view_box[3] > 0  # square, so it scales cleanly to any icon size
    assert len(root) > 0  # draws something


def test_no_status_icon_files_beyond_the_list() -> None:
    # An icon file nobody can ask for is dead weight or a misspelt name.
    on_disk = {p.stem for p in resource_path("icons", "status").glob("*.svg")}
    assert on_disk == set(EXPECTED_STATUS_ICONS)


def test_unknown_icon_name_is_a_clear_error() -> None:
    with pytest.raises(UnknownIconError, match=r"unknown icon 'onlin'.*online"):
        icon_path("onlin")


def test_app_icon_png_is_256_square() -> None:
    data = resources.app_icon_png().read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # IHDR: the first chunk, fixed position
    assert (width, height) == (256, 256)


# ---- style sheets -----------------------------------------------------------------------------------


def _selectors(qss: str) -> set[str]:
    without_comments = re.sub(r"/\*.*?\*/", "", qss, flags=re.S)
    heads = re.findall(r"([^{}]+)\{", without_comments)
    return {s.strip() for head in heads for s in head.split(",")}


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_style_sheet_is_non_empty_and_balanced(theme: resources.Theme) -> None:
    qss = style_sheet(theme)
    assert qss.strip()
    assert qss.count("{") == qss.count("}") > 0


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_style_sheet_styles_the_agreed_variants(theme: resources.Theme) -> None:
    selectors = _selectors(style_sheet(theme))
    for required in (
        "QWidget",
        "QPushButton",
        'QPushButton[role="primary"]',
        'QPushButton[role="danger"]',
        "QLineEdit",
        'QLineEdit[invalid="true"]',
        "QProgressBar",
        "QProgressBar::chunk",
        "QGroupBox",
        "QListWidget",
        "QTreeView",
        "QTabWidget::pane",
        "QTabBar::tab",
        'QLabel[role="error"]',
        'QLabel[role="hint"]',
        'QLabel[role="banner-warning"]',
        'QLabel[role="banner-error"]',
    ):
        assert required in selectors, f"{theme}.qss lacks {required}"


def test_themes_style_the_same_selectors() -> None:
    # A widget variant styled in one theme only would look broken in the other.
    assert _selectors(style_sheet("light")) == _selectors(style_sheet("dark"))


def test_unknown_theme_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown theme"):
        style_sheet("solarized")  # type: ignore[arg-type]


# ---- where resources are found ----------------------------------------------------------------------


def test_checkout_resources_are_the_repo_folder() -> None:
    assert resources.resources_root() == REPO / "resources"


def test_frozen_bundle_uses_meipass(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_resources(tmp_path / "resources")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)

    assert resource_path("styles", "dark.qss") == tmp_path / "resources" / "styles" / "dark.qss"
    assert style_sheet("dark") == "QWidget { color: red; }"
    assert icon_path(APP_ICON) == tmp_path / "resources" / "icons" / f"{APP_ICON}.svg"


def test_frozen_without_resources_fails_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Must not fall back to a checkout: that would hide a spec that forgot to bundle resources/.
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    with pytest.raises(ResourceNotFoundError, match=re.escape(str(tmp_path / "resources"))):
        resource_path("styles", "dark.qss")


def test_installed_wheel_uses_package_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # site-packages/pa_console/_resources, with no repo folder next to the package.
    package = tmp_path / "site-packages" / "pa_console"
    _fake_resources(package / "_resources")
    monkeypatch.setattr(resources, "_PACKAGE_DIR", package)

    assert resources.resources_root() == package / "_resources"


def test_foreign_resources_folder_is_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Another distribution's site-packages/resources must not shadow our package copy.
    (tmp_path / "resources" / "styles").mkdir(parents=True)
    package = tmp_path / "pa_console"
    _fake_resources(package / "_resources")
    monkeypatch.setattr(resources, "_PACKAGE_DIR", package)

    assert resources.resources_root() == package / "_resources"


def test_missing_resources_name_the_places_looked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(resources, "_PACKAGE_DIR", tmp_path / "pa_console")
    with pytest.raises(ResourceNotFoundError, match="_resources"):
        resources.resources_root()


def test_package_copy_is_the_repo_folder() -> None:
    # The wheel gets resources/ through this link (see pa_console/resources.py); a copy would drift.
    link = REPO / "pa_console" / "_resources"
    assert link.is_symlink()
    assert link.resolve() == (REPO / "resources").resolve()


def test_resource_path_cannot_escape_the_folder() -> None:
    with pytest.raises(ValueError, match="escapes"):
        resource_path("..", "pyproject.toml")


# ---- Linux desktop integration ----------------------------------------------------------------------


def test_desktop_file_has_the_required_keys() -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(PACKAGING / "linux" / "pa-console.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]

    assert entry["Type"] == "Application"
    assert entry["Name"]
    assert entry["Exec"].split()[0] == "pa-console"
    assert entry["Icon"] == APP_ICON  # the name packagers install the app icon under
    assert entry["Categories"].endswith(";")
    assert entry.get("Terminal") == "false"


def test_metainfo_matches_the_desktop_file_and_binaries() -> None:
    root = ET.parse(PACKAGING / "linux" / "io.pa_console.Console.metainfo.xml").getroot()

    assert root.tag == "component"
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == "io.pa_console.Console"
    for key in ("metadata_license", "project_license", "name", "summary"):
        assert (root.findtext(key) or "").strip(), f"metainfo lacks <{key}>"
    assert root.find("description/p") is not None
    launchable = root.find("launchable")
    assert launchable is not None and launchable.get("type") == "desktop-id"
    assert (PACKAGING / "linux" / (launchable.text or "")).is_file()
    assert {b.text for b in root.iterfind("provides/binary")} == {"pa-console", "pa-agent"}
    assert root.find("releases/release") is not None


# ---- systemd ----------------------------------------------------------------------------------------


def test_agent_unit_runs_confined_with_only_network_capabilities() -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(PACKAGING / "systemd" / "pa-agent.service", encoding="utf-8")
    service = parser["Service"]

    assert service["User"] == "pa-agent"
    assert service["ExecStart"].split()[1:] == ["serve", "/var/lib/pa-agent", "--listen", "0.0.0.0:8443"]
    caps = {"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE"}
    assert set(service["CapabilityBoundingSet"].split()) == caps
    assert set(service["AmbientCapabilities"].split()) == caps
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "ReadWritePaths": "/var/lib/pa-agent",
        "StateDirectory": "pa-agent",
        "SystemCallFilter": "@system-service",
        "Restart": "on-failure",
    }.items():
        assert service.get(key) == value, key
    assert set(service["RestrictAddressFamilies"].split()) == {
        "AF_INET",
        "AF_INET6",
        "AF_UNIX",
        "AF_NETLINK",
        "AF_PACKET",
    }
    assert "TimeoutStopSec" in service


def test_sysusers_creates_the_unit_user() -> None:
    lines = (PACKAGING / "systemd" / "pa-agent.sysusers.conf").read_text(encoding="utf-8").splitlines()
    entries = [line.split()[:2] for line in lines if line.strip() and not line.lstrip().startswith("#")]
    assert ["u", "pa-agent"] in entries
