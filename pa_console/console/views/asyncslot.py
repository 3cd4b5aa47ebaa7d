"""A typed face for qasync.asyncSlot (qasync ships no type hints)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, cast

import qasync

P = ParamSpec("P")


def async_slot(fn: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, asyncio.Task[None] | None]:
    """Run an async method as a Qt slot on the qasync loop; errors reach sys.excepthook (and pytest-qt)."""
    return cast(Callable[P, "asyncio.Task[None] | None"], qasync.asyncSlot()(fn))
