"""Find icons and style sheets in a source checkout, an installed wheel, or a PyInstaller bundle.

Where the files live, in the order looked at:
1. frozen (PyInstaller sets ``sys._MEIPASS``): ``<_MEIPASS>/resources``; the spec copies ``resources/`` there.
   Only this place is used when frozen, so a spec that forgot the data fails loudly instead of finding a
   stray checkout.
2. source checkout or editable install: ``<repo>/resources``, the top-level folder next to ``pa_console/``.
3. installed wheel: ``pa_console/_resources``. In the repo that is a symlink to ``../resources``, so
   setuptools sees it as a data-only package and copies the real files into the sdist and the wheel, given
   ``"pa_console._resources" = ["**/*.svg", "**/*.png", "**/*.qss"]`` under
   ``[tool.setuptools.package-data]``. (A checkout without symlinks, e.g. Windows with core.symlinks off,
   still runs from step 2; only a wheel built there would lack them.)

A folder counts as ours only if it holds ``icons/pa-console.svg``; a generic ``site-packages/resources``
from some other distribution must not be picked up.

This module is shared by the agent and the console, so it stays pure pathlib: no Qt here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final, Literal, get_args

__all__ = [
    "APP_ICON",
    "ICON_NAMES",
    "STATUS_ICONS",
    "ResourceNotFoundError",
    "Theme",
    "UnknownIconError",
    "app_icon_png",
    "icon_path",
    "resource_path",
    "resources_root",
    "style_sheet",
]

Theme = Literal["light", "dark"]

APP_ICON: Final = "pa-console"
STATUS_ICONS: Final[tuple[str, ...]] = (
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
)
ICON_NAMES: Final[frozenset[str]] = frozenset((APP_ICON, *STATUS_ICONS))

# The file whose presence marks a folder as pa-console's resources.
_MARKER: Final = Path("icons", f"{APP_ICON}.svg")
# Module-level so tests can point it at a fake installed layout.
_PACKAGE_DIR: Path = Path(__file__).resolve().parent


class ResourceNotFoundError(FileNotFoundError):
    """The resources folder (or a file in it) is missing: a packaging fault, not a user error."""


class UnknownIconError(ValueError):
    """An icon name outside ``ICON_NAMES``: a programming error, caught early rather than a blank icon."""


def _candidates() -> list[Path]:
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass is not None:
        return [Path(meipass) / "resources"]
    return [_PACKAGE_DIR.parent / "resources", _PACKAGE_DIR / "_resources"]


def resources_root() -> Path:
    """The folder that holds ``icons/`` and ``styles/``.

    Not cached: it costs a few stat calls, and tests repoint it.
    """
    candidates = _candidates()
    for candidate in candidates:
        if (candidate / _MARKER).is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise ResourceNotFoundError(f"pa-console resources not found (looked in: {looked})")


def resource_path(*parts: str) -> Path:
    """Path of a file under the resources folder; ``resource_path("styles", "dark.qss")``.

    It does not check that the file exists (callers may probe), but it refuses to leave the folder.
    """
    root = resources_root()
    path = root.joinpath(*parts)
    if not path.resolve().is_relative_to(root.resolve()):
        raise ValueError(f"resource path escapes the resources folder: {'/'.join(parts)}")
    return path


def icon_path(name: str) -> Path:
    """The SVG for the application icon (``APP_ICON``) or a status icon (one of ``STATUS_ICONS``)."""
    if name not in ICON_NAMES:
        known = ", ".join(sorted(ICON_NAMES))
        raise UnknownIconError(f"unknown icon {name!r}; known icons: {known}")
    # The app icon sits apart from status icons: packagers copy icons/ into hicolor without the status set.
    parts = ("icons", f"{name}.svg") if name == APP_ICON else ("icons", "status", f"{name}.svg")
    path = resource_path(*parts)
    if not path.is_file():
        raise ResourceNotFoundError(f"icon {name!r} is missing: {path}")
    return path


def app_icon_png() -> Path:
    """The 256 px PNG of the application icon, for places that cannot render SVG (installers, some WMs)."""
    path = resource_path("icons", f"{APP_ICON}-256.png")
    if not path.is_file():
        raise ResourceNotFoundError(f"application icon PNG is missing: {path}")
    return path


def style_sheet(theme: Theme) -> str:
    """The Qt style sheet text for ``theme``."""
    if theme not in get_args(Theme):
        raise ValueError(f"unknown theme {theme!r}; expected one of {', '.join(get_args(Theme))}")
    path = resource_path("styles", f"{theme}.qss")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ResourceNotFoundError(f"style sheet {theme!r} is missing: {path}") from exc
    # Images in the sheet (spin box arrows) are named relative to the icons folder, wherever it is installed.
    return text.replace("@ICONS@", resource_path("icons").as_posix())
