"""A fault-injecting TCP proxy on loopback, for tests: delay, drop, cut mid-stream, stall, partition one way.

It runs an asyncio loop in a thread of its own and forwards every connection it accepts on 127.0.0.1 to one
upstream address. A test changes its behaviour at run time with the methods below; each takes effect at once, also
on connections already open. It forwards bytes without looking at them (the agents speak TLS through it).

    proxy = FaultProxy("127.0.0.1", agent.port).start()
    proxy.delay(0.05)          # each forwarded piece waits 50 ms
    proxy.cut_after(100_000)   # the next connections are cut (RST) once 100 kB went down
    proxy.stall()              # nothing moves either way, connections stay open
    proxy.partition("up")      # client->server bytes vanish (a one-way black hole); "down", "both"
    proxy.drop()               # new connections are reset at once; open ones too (drop_open=True)
    proxy.heal()               # back to a plain proxy
    proxy.on_bytes(n, fn)      # call fn() (in the proxy thread) once n bytes went down in total since now
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["up", "down", "both"]
_READ = 256 * 1024


@dataclass
class _Faults:
    delay_s: float = 0.0
    drop_new: bool = False
    cut_after: int | None = None  # per connection, bytes going down (server -> client)
    stalled: bool = False
    blocked: set[str] = field(default_factory=set)  # "up" and/or "down": bytes in that direction are discarded


@dataclass
class ConnStats:
    opened_at: float
    up: int = 0
    down: int = 0
    closed: bool = False
    cut: bool = False


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a dead link or firewall reset looks to the other side."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort() if sock is None else writer.close()


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int, listen_host: str = "127.0.0.1") -> None:
        if not listen_host.startswith("127.") or not upstream_host.startswith("127."):
            raise ValueError("the fault proxy works on 127.0.0.0/8 only")
        self.upstream = (upstream_host, upstream_port)
        self.host = listen_host
        self.port = 0
        self.faults = _Faults()
        self.connections: list[ConnStats] = []
        self.total_down = 0
        self.total_up = 0
        self._lock = threading.Lock()
        self._trigger: tuple[int, Callable[[], None]] | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._resume = asyncio.Event()

    # -- life ------------------------------------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._close_all())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    async def _listen(self) -> None:
        self._resume.set()
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _close_all(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            _reset(w)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- faults, toggled by the test -------------------------------------------------------------------------------
    def delay(self, seconds: float) -> None:
        self.faults.delay_s = seconds

    def drop(self, drop_open: bool = False) -> None:
        """Refuse (reset) every new connection; with drop_open, reset the open ones too."""
        self.faults.drop_new = True
        if drop_open:
            self.reset_all()

    def reset_all(self) -> None:
        """Reset every open connection now (a link that dies)."""
        self._call(self._reset_open())

    async def _reset_open(self) -> None:
        for w in list(self._writers):
            _reset(w)

    def cut_after(self, nbytes: int | None) -> None:
        """Cut each connection once `nbytes` went down it (None: no more cuts)."""
        self.faults.cut_after = nbytes

    def stall(self) -> None:
        self.faults.stalled = True
        self._loop.call_soon_threadsafe(self._resume.clear)

    def partition(self, direction: Direction) -> None:
        """A one-way black hole: bytes sent in that direction are swallowed (TCP stays up, nothing arrives)."""
        self.faults.blocked = {"up", "down"} if direction == "both" else {direction}

    def heal(self) -> None:
        self.faults = _Faults()
        self._loop.call_soon_threadsafe(self._resume.set)

    def on_bytes(self, nbytes: int, callback: Callable[[], None]) -> None:
        """Call `callback` (in the proxy's thread, before forwarding further) once `nbytes` more went down."""
        with self._lock:
            self._trigger = (self.total_down + nbytes, callback)

    def clear_trigger(self) -> None:
        with self._lock:
            self._trigger = None

    # -- forwarding ------------------------------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.faults.drop_new:
            _reset(writer)
            return
        stats = ConnStats(opened_at=time.monotonic())
        self.connections.append(stats)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _reset(writer)
            stats.closed = True
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pump(reader, up_writer, "up", stats, writer),
                                 self._pump(up_reader, writer, "down", stats, up_writer))
        finally:
            stats.closed = True
            self._writers -= {writer, up_writer}
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, direction: str, stats: ConnStats,
                    src_writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await src.read(_READ)
                if not data:
                    if direction in self.faults.blocked:
                        return  # in a black hole even the end of the stream never arrives
                    with contextlib.suppress(OSError):
                        if dst.can_write_eof():
                            dst.write_eof()
                    return
                await self._resume.wait()
                if self.faults.delay_s:
                    await asyncio.sleep(self.faults.delay_s)
                await self._resume.wait()
                if direction in self.faults.blocked:
                    continue  # swallowed
                if direction == "down":
                    data = await self._maybe_fire(data, dst, stats)
                    limit = self.faults.cut_after
                    if limit is not None and stats.down + len(data) >= limit:
                        keep = max(0, limit - stats.down)
                        self._count(stats, direction, len(data[:keep]))
                        dst.write(data[:keep])
                        with contextlib.suppress(OSError, ConnectionError):
                            await dst.drain()
                        stats.cut = True
                        _reset(dst)
                        _reset(src_writer)
                        return
                self._count(stats, direction, len(data))
                dst.write(data)
                await dst.drain()
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            _reset(dst)

    async def _maybe_fire(self, data: bytes, dst: asyncio.StreamWriter, stats: ConnStats) -> bytes:
        """If the armed trigger falls inside this piece: forward up to it, fire, and return the rest."""
        with self._lock:
            trigger = self._trigger
            if trigger is None or self.total_down + len(data) < trigger[0]:
                return data
            self._trigger = None
        keep = max(0, trigger[0] - self.total_down)
        if keep:
            self._count(stats, "down", keep)
            dst.write(data[:keep])
            with contextlib.suppress(OSError, ConnectionError):
                await dst.drain()
        trigger[1]()
        return data[keep:]

    def _count(self, stats: ConnStats, direction: str, n: int) -> None:
        with self._lock:
            if direction == "up":
                stats.up += n
                self.total_up += n
            else:
                stats.down += n
                self.total_down += n
