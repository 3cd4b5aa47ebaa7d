"""Raw HTTP/1.1 over pinned TLS (what httpx will not send: lying lengths, endless bodies, odd headers), and the
memory of an agent process."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

from tests.harness import RunningAgent, pinned_context


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (the peak since start) of a process, in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def tls_socket(agent: RunningAgent, timeout: float = 20) -> ssl.SSLSocket:
    sock = socket.create_connection((agent.host, agent.port), timeout=timeout)
    return pinned_context(agent.cert_pem).wrap_socket(sock, server_hostname=agent.host)


def read_response(sock: ssl.SSLSocket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body (by Content-Length) of one response."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a full response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def _endless(agent: RunningAgent, head: str, body_bytes: int, chunked: bool,
                   chunk: int) -> tuple[int, dict[str, str], bytes, int]:
    reader, writer = await asyncio.open_connection(agent.host, agent.port, ssl=pinned_context(agent.cert_pem),
                                                   server_hostname=agent.host)
    writer.write(head.encode("latin-1"))
    sent = 0
    piece = b"{" * chunk

    async def push() -> None:
        nonlocal sent
        try:
            while sent < body_bytes:
                n = min(chunk, body_bytes - sent)
                data = piece[:n]
                if chunked:
                    data = f"{n:x}\r\n".encode() + data + b"\r\n"
                writer.write(data)
                await writer.drain()
                sent += n
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (OSError, ConnectionError):
            pass  # the agent closed the connection: what we want

    pusher = asyncio.ensure_future(push())
    try:
        answer = await asyncio.wait_for(_read_response(reader), 60)
        await asyncio.wait_for(pusher, 120)
    finally:
        pusher.cancel()
        writer.close()
    return (*answer, sent)


def request_with_endless_body(agent: RunningAgent, head: str, body_bytes: int, chunked: bool = False,
                              chunk: int = 1 << 20) -> tuple[int, dict[str, str], bytes, int]:
    """Send `head`, then try to send `body_bytes` while the answer is read: returns the answer and how many body
    bytes were written before the agent closed the connection."""
    return asyncio.run(_endless(agent, head, body_bytes, chunked, chunk))
