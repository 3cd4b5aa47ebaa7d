"""The agent's allocator settings (agent/malloc.py), in a real process: threads that allocate chunk-sized buffers
share one arena (glibc's `malloc_stats` lists the arenas), instead of one each that is unmapped when it empties."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import ctypes, sys, threading
from pa_console.agent.malloc import tune_for_bulk_transfer
if sys.argv[1] == "tuned":
    assert tune_for_bulk_transfer()
def work():
    for _ in range(50):
        b = bytes(1024 * 1024)
        del b
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL("libc.so.6").malloc_stats()
"""


def _arenas(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True, timeout=60)
    return sum(1 for line in out.stderr.splitlines() if line.startswith("Arena "))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_worker_threads_share_one_arena() -> None:
    assert _arenas("plain") > 1  # the control: without the setting, threads get arenas of their own
    assert _arenas("tuned") == 1
