"""systemd's service notifications (sd_notify): readiness for `Type=notify` and watchdog pings.

A few lines over an AF_UNIX datagram socket, the protocol systemd documents (sd_notify(3)); the `sdnotify` package
does the same but has not been released since 2019, and this needs no more than this. A no-op outside systemd.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

log = logging.getLogger(__name__)


def under_systemd() -> bool:
    """Started by systemd: stderr then goes to the journal (JOURNAL_STREAM) or the unit has an INVOCATION_ID."""
    return bool(os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"))


def notify(state: str) -> bool:
    """Send one notification ("READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=..."); False when not under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("could not notify systemd (%s): %s", state.split("=", 1)[0], exc)
        return False
    return True


def watchdog_interval_s() -> float | None:
    """Half the WatchdogSec systemd set for this process (pings must come more often than that), or None."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) <= 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000


async def watchdog_pings(interval_s: float) -> None:
    """Ping from the event loop itself: if the loop stalls, the pings stop and systemd restarts the agent."""
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval_s)
