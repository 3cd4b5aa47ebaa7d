"""`pa-console --demo` (issue #6): starts the whole lab on one machine. A hook, filled by the demo work."""

from __future__ import annotations

import argparse


def run_demo(args: argparse.Namespace | None = None) -> int:
    """Start two agents, an SMTP sink and the console connected to both; stop them all on quit."""
    print("The demo is not available in this build yet (issue #6).")
    return 2
