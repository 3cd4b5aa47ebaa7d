"""Progress of a sync in flight, published a few times a second (never once per chunk)."""

from __future__ import annotations

import time
from collections.abc import Callable

from pa_console.protocol.models import SyncProgress


class ProgressTracker:
    def __init__(self, publish: Callable[[SyncProgress], None], interval_s: float = 0.25) -> None:
        self._publish = publish
        self._interval = interval_s
        self._last = 0.0
        self._t0 = time.monotonic()
        self._bytes_t0 = 0
        self.progress = SyncProgress(phase="connecting")
        self.phases_s: dict[str, float] = {}
        self._phase_t0 = time.monotonic()

    def phase(self, name: str, rows_total: int | None = None, bytes_total: int | None = None) -> None:
        self.close_phase()
        self.progress.phase = name
        if rows_total is not None:
            self.progress.rows_total = rows_total
        if bytes_total is not None:
            self.progress.bytes_total = bytes_total
            self._t0 = time.monotonic()
            self._bytes_t0 = self.progress.bytes_done
        self.emit(force=True)

    def close_phase(self) -> None:
        now = time.monotonic()
        self.phases_s[self.progress.phase] = round(now - self._phase_t0, 3)
        self._phase_t0 = now

    def add(self, rows: int = 0, nbytes: int = 0) -> None:
        self.progress.rows_done += rows
        self.progress.bytes_done += nbytes
        self.emit()

    def emit(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        p = self.progress
        elapsed = max(now - self._t0, 1e-6)
        p.rate_bps = (p.bytes_done - self._bytes_t0) / elapsed
        left = p.bytes_total - p.bytes_done
        p.eta_s = round(left / p.rate_bps, 1) if p.rate_bps > 0 and left > 0 else (0.0 if left <= 0 else None)
        self._publish(p.model_copy())
