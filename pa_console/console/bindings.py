"""Refuse Qt bindings known to crash the console after minutes, in one sentence instead of an abort."""

from __future__ import annotations

import sys

# (major, minor, patch) releases of PySide6 that lower None's reference count on every void call under CPython < 3.12;
# the console then dies with "Fatal Python error: none_dealloc" after a few minutes of live updates. Measured on
# 3.11: 6.12.0 loses ~2 references per call; 6.10.3, 6.11.0 and 6.11.3 lose none. 3.12+ makes None immortal.
_LEAKS_NONE: frozenset[tuple[int, int, int]] = frozenset({(6, 12, 0)})


def broken_bindings_message(version: tuple[int, ...], python: tuple[int, ...] = tuple(sys.version_info[:2])) -> str:
    """A sentence saying what to do when these bindings are known to crash on this Python, else ''."""
    if python >= (3, 12) or tuple(version[:3]) not in _LEAKS_NONE:
        return ""
    shown = ".".join(str(part) for part in version[:3])
    return (
        f"PySide6 {shown} crashes on Python {python[0]}.{python[1]} after a few minutes; "
        "install a supported version with: pip install 'PySide6-Essentials<6.12'"
    )


def check_bindings() -> str:
    import PySide6

    return broken_bindings_message(tuple(int(part) for part in PySide6.__version_info__[:3]))
