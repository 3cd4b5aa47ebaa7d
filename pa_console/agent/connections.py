"""Slow and many clients: a header timeout and a bound on open connections, in uvicorn's HTTP protocol.

uvicorn has no timeout for request headers: its keep-alive timer is cancelled by any byte received, so 500 TLS clients
that sent one header line every 2 s were all still open after 75 s, and ~970 of them used up the agent's 1024 file
descriptors (issue 14). Here every connection that waits for request headers (a new one, or a kept-alive one after
its response) must complete them within HEADER_TIMEOUT_S, or it is closed. And past `max_connections`, a new
connection closes the connection that has waited longest for its headers: a client that is still sending headers
(a slow or idle one) gives way, so the peer and the administrator, who send theirs at once, always get in.
Connections inside a request are not evicted, except while they read a body nobody has vouched for yet (the peer
handshake is open to anyone); bodies have their own timeouts (front_door.py).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

HEADER_TIMEOUT_S = 10.0  # HAProxy's usual `timeout http-request`; a real client sends its headers in milliseconds
# asyncio's default is 60 s. Longer than the peer's own connect timeout (10 s), so that a peer behind a one-way
# partition reports "did not answer in time" rather than a connection closed by us.
TLS_HANDSHAKE_TIMEOUT_S = 20.0
# File descriptors kept for everything that is not a client connection: one SQLite connection per worker thread
# (file, -wal, -shm: 3 each, 40 threads), the peer client's sockets, blob reads, the log, listening sockets.
RESERVED_FDS = 256
MIN_CONNECTIONS = 32
EVICTABLE_KEY = "pa.evictable"  # in the ASGI scope: a callable(bool) the front door calls around public bodies


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (allowed without privileges); returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def connection_budget(fd_limit: int) -> int:
    return max(MIN_CONNECTIONS, fd_limit - RESERVED_FDS)


class ConnectionGuard:
    """The open connections of one server, and those waiting for request headers (oldest first)."""

    def __init__(self, max_connections: int, header_timeout_s: float = HEADER_TIMEOUT_S) -> None:
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self.open = 0
        self.waiting: dict[Any, asyncio.TimerHandle | None] = {}
        self.timed_out = 0
        self.evicted = 0

    def opened(self, conn: GuardedHttpProtocol) -> None:
        self.open += 1
        if self.open > self.max_connections:
            victim = next(iter(self.waiting), None)
            if victim is None:  # every connection is inside a request: refuse the new one
                log.warning("%d connections open, all in requests; refusing a new one", self.open - 1)
                conn.transport.abort()
                return
            self.evicted += 1
            if self.evicted in (1, 10, 100) or self.evicted % 1000 == 0:
                log.warning("%d connections open: closed the one that waited longest for its request headers "
                            "(%d so far)", self.open - 1, self.evicted)
            self._drop(victim)
        self.awaiting_headers(conn)

    def awaiting_headers(self, conn: GuardedHttpProtocol) -> None:
        self._forget(conn)
        self.waiting[conn] = conn.loop.call_later(self.header_timeout_s, self._expire, conn)

    def request_started(self, conn: GuardedHttpProtocol) -> None:
        self._forget(conn)

    def evictable(self, conn: GuardedHttpProtocol, yes: bool) -> None:
        """A request that is not authenticated yet reads its body (the peer handshake is open to anyone): it may
        be closed to make room, like a connection still sending headers. Its time is bounded by the body timeouts."""
        self._forget(conn)
        if yes and not conn.transport.is_closing():
            self.waiting[conn] = None

    def closed(self, conn: GuardedHttpProtocol) -> None:
        self.open -= 1
        self._forget(conn)

    def _forget(self, conn: GuardedHttpProtocol) -> None:
        timer = self.waiting.pop(conn, None)
        if timer is not None:
            timer.cancel()

    def _expire(self, conn: GuardedHttpProtocol) -> None:
        if conn in self.waiting:
            self.timed_out += 1
            self._drop(conn)

    def _drop(self, conn: GuardedHttpProtocol) -> None:
        self._forget(conn)
        # abort, not close: nothing is owed to a client that did not finish its request, and the descriptor is
        # freed now rather than after a TLS close_notify it may never read.
        conn.transport.abort()


# How long a refused request's connection may linger after its answer before it is cut (see on_response_complete).
REFUSED_LINGER_S = 0.2


class GuardedHttpProtocol(HttpToolsProtocol):
    guard: ClassVar[ConnectionGuard]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.guard.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.closed(self)
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        cycle = self.cycle
        if self.transport.is_closing() and cycle is not None and cycle.more_body:
            # A refusal whose body was not read (401, 413...) closes the connection, but TLS's graceful close goes
            # on reading, and discarding, whatever the client still sends: all 200 MB of a 200 MB body. The answer
            # is already on its way; cut the connection after a short linger so the client can read it first.
            self.loop.call_later(REFUSED_LINGER_S, self.transport.abort)
        super().on_response_complete()
        if not self.transport.is_closing():
            self.guard.awaiting_headers(self)

    def on_headers_complete(self) -> None:
        self.guard.request_started(self)
        # For the front door: mark this connection evictable while it reads an unauthenticated body.
        self.scope[EVICTABLE_KEY] = self._set_evictable  # type: ignore[literal-required]
        super().on_headers_complete()

    def _set_evictable(self, yes: bool) -> None:
        self.guard.evictable(self, yes)

    def send_400_response(self, msg: str) -> None:
        """A request that is not HTTP/1.1 (a smuggling attempt, a garbled chunk, a NUL in the path): the same JSON
        sentence as every other refusal, instead of uvicorn's bare "Invalid HTTP request received."."""
        del msg
        body = (b'{"detail":"The request is not well-formed HTTP/1.1 (its request line, a header or its chunked body); '
                b'send it again with an HTTP client such as curl.","category":"request"}')
        self.transport.write(b"".join([
            b"HTTP/1.1 400 Bad Request\r\n", b"content-type: application/json\r\n",
            b"content-length: ", str(len(body)).encode(), b"\r\n", b"connection: close\r\n\r\n", body]))
        self.transport.close()

    def _unsupported_upgrade_warning(self) -> None:
        # uvicorn's advice ("pip install websockets") would hand upgraded connections to a protocol the guard does
        # not see; this agent has no WebSocket endpoint, so the request is simply served as plain HTTP.
        log.debug("ignored an Upgrade request: this agent serves no WebSocket")



def guarded_protocol(guard: ConnectionGuard) -> type[GuardedHttpProtocol]:
    """A protocol class bound to one server's guard (two agents in one process each get their own)."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"guard": guard})
