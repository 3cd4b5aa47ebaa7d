"""The C allocator's thresholds for an agent that moves GiBs through 0.25-1 MiB buffers.

glibc serves allocations above its mmap threshold (128 KiB at first, raised as such blocks are freed) with fresh
mappings, and gives the top of the heap back to the OS whenever more than its trim threshold is free. A sync moves
every byte through such buffers (TLS reads, recording chunks, SQLite's blob buffers) and frees them a moment later,
so the memory was unmapped and faulted in again for each one: measured on a 1 GiB pull, ~0.7 s of CPU per GiB on
each side, about a third of the receiving client's work. Fixed thresholds keep those buffers in the heap and reuse
them; the memory kept is bounded by the trim threshold.

One arena, not one per thread: the primary reads recording chunks on worker threads and frees them on the event
loop's, so each worker's arena (a 64 MiB heap of its own) emptied and was unmapped, then faulted in again for the
next batch (`perf`: page faults, zeroing and unmapping ~15 % of the primary's CPU during a first sync). With one
arena, measured in alternating rounds (1 GiB + 100k rows): the primary's CPU 1.56-1.67 -> 1.14-1.45 s, its peak RSS
129-133 -> 107-111 MB, the backup's 123 -> 112-113 MB, the sync 1.03-1.04x faster. Large allocations are rare (small
objects are pymalloc's, under the GIL), so the one lock costs nothing measurable."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 4 * 1024 * 1024  # chunks (1 MiB) and network buffers stay below it
TRIM_THRESHOLD = 8 * 1024 * 1024  # measured: 8 MiB gives nearly all of the gain of 32 or 64 MiB


def tune_for_bulk_transfer() -> bool:
    """Set the thresholds (glibc only; elsewhere nothing happens). True if they were set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl has no mallopt): its allocator behaves differently anyway
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = (bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
          and bool(mallopt(_M_ARENA_MAX, 1)))  # before the agent starts its threads
    if not ok:
        log.info("could not set the allocator's thresholds; bulk sync will cost more CPU")
    return ok
