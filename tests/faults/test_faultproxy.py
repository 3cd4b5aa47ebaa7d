"""The fault proxy itself, against a plain TCP server on loopback (no agents): each fault does what it says."""

from __future__ import annotations

import errno
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from tests.faultproxy import FaultProxy

BLOB = bytes(range(256)) * 4096  # 1 MiB


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        cmd = self.request.recv(16)
        if cmd.startswith(b"blob"):
            self.request.sendall(BLOB)
        else:
            self.request.sendall(cmd)  # echo


@pytest.fixture
def upstream() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(upstream: int) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", upstream) as p:
        yield p


def _fetch(proxy: FaultProxy, cmd: bytes = b"blob", timeout: float = 3) -> bytes:
    with socket.create_connection((proxy.host, proxy.port), timeout=timeout) as s:
        s.sendall(cmd)
        s.shutdown(socket.SHUT_WR)
        got = bytearray()
        while chunk := s.recv(65536):
            got += chunk
        return bytes(got)


def test_plain_forwarding_and_counting(proxy: FaultProxy) -> None:
    assert _fetch(proxy) == BLOB
    assert _fetch(proxy, b"hello") == b"hello"
    assert proxy.total_down == len(BLOB) + 5 and proxy.connections[0].down == len(BLOB)


def test_delay(proxy: FaultProxy) -> None:
    proxy.delay(0.3)
    t0 = time.monotonic()
    assert _fetch(proxy, b"hello") == b"hello"
    assert time.monotonic() - t0 >= 0.55  # one piece up, one piece down


def test_cut_mid_stream_resets_after_n_bytes(proxy: FaultProxy) -> None:
    proxy.cut_after(100_000)
    with pytest.raises(ConnectionResetError):
        _fetch(proxy)
    assert proxy.connections[-1].cut and proxy.connections[-1].down == 100_000
    proxy.heal()
    assert _fetch(proxy) == BLOB


def test_stall_holds_bytes_until_healed(proxy: FaultProxy) -> None:
    proxy.stall()
    with pytest.raises(TimeoutError):
        _fetch(proxy, b"hello", timeout=0.5)
    proxy.heal()
    assert _fetch(proxy, b"hello") == b"hello"


@pytest.mark.parametrize("direction", ["up", "down"])
def test_partition_one_way_swallows_bytes(proxy: FaultProxy, direction: str) -> None:
    proxy.partition(direction)  # type: ignore[arg-type]
    with socket.create_connection((proxy.host, proxy.port), timeout=0.5) as s:
        s.sendall(b"hello")
        with pytest.raises(TimeoutError):
            s.recv(10)
    proxy.heal()
    assert _fetch(proxy, b"hello") == b"hello"


def test_drop_resets_new_connections(proxy: FaultProxy) -> None:
    proxy.drop()
    with pytest.raises((ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        try:
            data = _fetch(proxy, b"hello")
        except OSError as exc:
            if exc.errno != errno.ENOTCONN:
                raise
            # The reset can land between our send and our shutdown: the socket is then no longer connected.
            raise ConnectionResetError(str(exc)) from exc
        if not data:
            raise ConnectionResetError("closed without data")
    proxy.heal()
    assert _fetch(proxy, b"hello") == b"hello"


def test_trigger_fires_at_the_byte(proxy: FaultProxy) -> None:
    seen: list[int] = []
    proxy.on_bytes(300_000, lambda: seen.append(proxy.total_down))
    assert _fetch(proxy) == BLOB
    assert seen == [300_000]


def test_only_loopback() -> None:
    with pytest.raises(ValueError):
        FaultProxy("10.0.0.1", 80)
