import os

# PySide6 6.12's lazy class loading crashed (a null converter called from QtGui) in a paintEvent depending
# only on which test modules were collected; eager loading avoids it. Must be set before PySide6 is imported.
os.environ.setdefault("PYSIDE6_OPTION_LAZY", "0")

from tests.ui.fixtures import aloop, memory_keyring, qloop

__all__ = ["aloop", "memory_keyring", "qloop"]
