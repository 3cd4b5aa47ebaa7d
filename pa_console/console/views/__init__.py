"""Qt views: the only place (with main.py) that imports PySide6. Views do no I/O and never block."""
