"""A peer that resets connections while they are being made must never make the agent close a descriptor it does
not own. With plain uvloop, aiohttp's failed connections closed their socket's number twice; the second close hit
whatever had reused the number meanwhile (a recording file, a socket, the database). The agent runs its own loop
(`server.EVENT_LOOP`, agent/event_loop.py); this test runs the agent's peer client on that loop against a server that
resets every connection, opening a file after each failure, and checks that every file is still open (on plain
uvloop 248 of 300 were closed underneath)."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import struct
import threading
from pathlib import Path

from uvicorn.importer import import_from_string

from pa_console.agent import server
from pa_console.agent.identity import create_identity
from pa_console.agent.paths import DataDir
from pa_console.agent.peer.client import PeerClient, PeerError
from tests.harness import free_port


def _resetting_server(port: int, stop: threading.Event) -> None:
    with socket.socket() as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", port))
        srv.listen(64)
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset
            conn.close()


def test_connections_reset_while_being_made_close_nothing_else(tmp_path: Path) -> None:
    cert_pem = create_identity(DataDir(tmp_path / "peer"), "peer", None, []).cert_pem
    port = free_port()
    stop = threading.Event()
    thread = threading.Thread(target=_resetting_server, args=(port, stop))
    thread.start()

    async def attempts() -> list[int]:
        held: list[int] = []
        for _ in range(100):
            try:
                await PeerClient("127.0.0.1", port, cert_pem, "token").ping(timeout=2)
            except PeerError:
                pass
            held.append(os.open(os.devnull, os.O_RDONLY))  # takes the lowest free number, as any file would
            gc.collect()  # a stray close happened when the failed connection's socket object was collected
        return held

    try:
        with asyncio.Runner(loop_factory=import_from_string(server.EVENT_LOOP)) as runner:
            held = runner.run(attempts())
    finally:
        stop.set()
        thread.join()
    closed = []
    for fd in held:
        try:
            os.fstat(fd)
            os.close(fd)
        except OSError:
            closed.append(fd)
    assert closed == [], f"{len(closed)} of {len(held)} descriptors were closed by someone else"
