"""The site at the shared address: a small HTTPS server answering which appliance serves it.

Deliberately not a second uvicorn: uvicorn installs process-wide signal handlers, and this listener must open and
close many times in the life of one agent (at every takeover and demotion). It reuses the agent's certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_MAX_HEAD = 8192
_READ_TIMEOUT_S = 5.0


def site_tls_context(cert_path: str, key_path: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # SO_REUSEADDR (not SO_REUSEPORT): a restart may bind at once over TIME_WAIT, yet a second live listener on
    # the same address and port is still refused, so two appliances can never both serve the site on one host.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class SiteListener:
    """Serves GET / and GET /site with {"name", "role", "epoch"} of this appliance, read live at each request."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext, identify: Callable[[], dict[str, Any]]) -> None:
        self.host = host
        self.port = port
        self._tls = tls
        self._identify = identify
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    @property
    def serving(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Bind now (raising OSError if the address is taken or not ours), then serve in the background."""
        if self._server is not None:
            return
        sock = _bind(self.host, self.port)
        self._server = await asyncio.start_server(self._handle, sock=sock, ssl=self._tls,
                                                  ssl_handshake_timeout=_READ_TIMEOUT_S)
        log.info("site listener serving https://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        # Drop open connections too: a demoted appliance must stop answering at once, keep-alive or not.
        for task in list(self._clients):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)
        log.info("site listener on %s:%d closed", self.host, self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT_S)
            status, body = self._answer(head[:_MAX_HEAD])
            payload = json.dumps(body).encode()
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(payload)}\r\nCache-Control: no-store\r\n"
                         "Connection: close\r\n\r\n".encode() + payload)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError,
                ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)

    def _answer(self, head: bytes) -> tuple[str, dict[str, Any]]:
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        if len(parts) != 3:
            return "400 Bad Request", {"detail": "Malformed request line."}
        method, target, _ = parts
        path = target.split("?", 1)[0]
        if path not in ("/", "/site"):
            return "404 Not Found", {"detail": "The site answers at / and /site."}
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", {"detail": "The site answers GET only."}
        return "200 OK", self._identify()
