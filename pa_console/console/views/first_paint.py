"""For benchmarks and smoke tests: note when the main window is first painted, then ask the program to quit."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject


class FirstPaintProbe(QObject):
    def __init__(self, target: Path, done: Callable[[], None]) -> None:
        super().__init__()
        self.target = target
        self.done = done
        self.seen = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt's name
        if not self.seen and event.type() == QEvent.Type.Paint:
            self.seen = True
            self.target.write_text(f"{time.time():.6f}\n")
            self.done()
        return False
