"""A bound on repeated log lines: whoever can reach the port must not be able to fill the disk or the journal.

uvicorn logs one warning per malformed request ("Invalid HTTP request received."), so a client sending garbage in a
loop wrote a line per attempt. Each distinct warning or error (logger and format string) may appear BURST times per
WINDOW_S; past that it is counted, and the first line after the window says how many were left out. Lines below
WARNING are the agent's own account of what it does (each event, each sync) and are never held back."""

from __future__ import annotations

import logging
import threading
import time

BURST = 5
WINDOW_S = 60.0
_MAX_KEYS = 1000  # distinct messages tracked at once (format strings, not formatted text: a small, fixed set)


class RepeatLimit(logging.Filter):
    def __init__(self, burst: int = BURST, window_s: float = WINDOW_S) -> None:
        super().__init__()
        self.burst, self.window_s = burst, window_s
        self._seen: dict[tuple[str, str], list[float]] = {}  # key -> [window start, lines shown, lines left out]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        # One instance serves every handler (stderr and the file): a record is judged once, then the verdict is kept.
        verdict: bool | None = getattr(record, "_pa_repeat_verdict", None)
        if verdict is None:
            verdict = self._judge(record)
            record._pa_repeat_verdict = verdict
        return verdict

    def _judge(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = time.monotonic()
        with self._lock:
            state = self._seen.get(key)
            if state is None or now - state[0] >= self.window_s:
                left_out = int(state[2]) if state else 0
                if len(self._seen) >= _MAX_KEYS:
                    self._seen.clear()
                self._seen[key] = [now, 1.0, 0.0]
                if left_out:
                    record.msg = f"{record.msg} ({left_out} more like this were left out of the log)"
                return True
            if state[1] < self.burst:
                state[1] += 1
                return True
            state[2] += 1
            return False
