"""The agent's event loop: uvloop, with one failure path made safe.

uvloop (0.23) takes over the descriptor of a socket handed to `create_connection(sock=...)` (aiohttp hands over its
own, after connecting) but, when the connection then fails (a peer that resets it during the TLS handshake, a
timeout), closes the descriptor without detaching the Python socket: that socket later closes the same number a
second time, after the number was reused by a recording file, a socket or the database (uvloop issue 738; seen here
as EBADF and EINVAL on recording files in the network-fault tests). Detaching the socket on those failures leaves
the one close to uvloop. The standard library's loop has no such problem but changes how a refused request's
connection ends (the client no longer reads its 401/413: tests/security/test_front_door.py)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

import uvloop

# Failures after uvloop took the descriptor over; argument errors (ValueError, TypeError) come before it does.
_AFTER_HANDOVER = (OSError, ssl.SSLError, TimeoutError, asyncio.CancelledError)


class AgentLoop(uvloop.Loop):
    async def create_connection(self, protocol_factory: Any, host: Any = None, port: Any = None, *,
                                sock: socket.socket | None = None, **kwargs: Any) -> Any:
        try:
            return await super().create_connection(protocol_factory, host, port, sock=sock, **kwargs)
        except _AFTER_HANDOVER:
            if sock is not None and sock.fileno() != -1:
                sock.detach()  # uvloop closed the descriptor already: its number must not be closed again
            raise


def new_loop() -> asyncio.AbstractEventLoop:
    return AgentLoop()
