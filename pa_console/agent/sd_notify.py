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


def stderr_is_journal() -> bool:
    """Whether standard error goes to the journal, as systemd.exec(5) says to check it: JOURNAL_STREAM names the
    device and inode of the stream systemd connected, and it must be this process's stderr (the variable is
    inherited by children whose stderr may have been redirected, e.g. a shell in a terminal started by systemd)."""
    device, _, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    if not device.isdigit() or not inode.isdigit():
        return False
    try:
        st = os.fstat(2)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (int(device), int(inode))


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
