"""Fixtures shared by the console's UI and integration tests: one qasync loop for the session, a keyring."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import keyring
import pytest
import qasync
from PySide6.QtWidgets import QApplication

from tests.ui.memory_keyring import MemoryKeyring

T = TypeVar("T")


@pytest.fixture(scope="session")
def qloop(qapp: QApplication) -> Iterator[tuple[qasync.QEventLoop, list[dict[str, Any]]]]:
    """One QEventLoop for the whole session, marked running so qtbot.wait* also drives asyncio.

    Never loop.stop() it: that calls QApplication.exit() and every later qtbot.wait* would time out.
    """
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    asyncio.events._set_running_loop(None)  # installed per test by `aloop`; plain asyncio tests stay possible
    yield loop, errors
    executor = getattr(loop, "_QEventLoop__default_executor", None)
    if executor is not None:  # asyncio.to_thread workers: stop them before Qt goes away
        executor.shutdown(wait=True)


@pytest.fixture
def aloop(qloop: tuple[qasync.QEventLoop, list[dict[str, Any]]], qtbot: Any) -> Iterator[qasync.QEventLoop]:
    """The session loop, re-installed as the running loop; the test's leftover tasks are cancelled and
    errors the loop saw (e.g. a task that failed unobserved) fail the test at teardown."""
    loop, errors = qloop
    asyncio.events._set_running_loop(loop)
    asyncio.set_event_loop(loop)
    errors.clear()
    before = set(asyncio.all_tasks(loop))
    yield loop
    leftovers = [t for t in asyncio.all_tasks(loop) if t not in before and not t.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        qtbot.waitUntil(lambda: all(t.done() for t in leftovers), timeout=10_000)
    asyncio.events._set_running_loop(None)
    if errors:
        context = errors[0]
        exc = context.get("exception")
        if isinstance(exc, BaseException):
            raise exc
        raise AssertionError(context.get("message"))


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def run(loop: asyncio.AbstractEventLoop, qtbot: Any, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
    """Run a coroutine on the qasync loop while Qt keeps processing events; return its result."""
    task = loop.create_task(coro)
    qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
    return task.result()
