"""The pinned, authenticated client an agent uses to talk to its peer (control calls and bulk sync streams)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import aiohttp

from pa_console.agent.peer.tls import describe_connect_error, pinned_context
from pa_console.protocol.constants import API_PREFIX

if TYPE_CHECKING:
    from pa_console.agent.runtime import AgentRuntime


class PeerError(Exception):
    """A failed call to the peer, phrased for the administrator. `status` is the HTTP status if there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PeerClient:
    """aiohttp rather than httpx here: bulk sync moves GiBs, and aiohttp's per-byte cost is ~4x lower (STACK.md)."""

    def __init__(self, host: str, port: int, cert_pem: str, token: str | None, what: str = "the peer appliance"):
        self.host = host
        self.port = port
        self.what = what
        self._ssl: ssl.SSLContext = pinned_context(cert_pem)
        self._token = token
        self.base = f"https://{host}:{port}{API_PREFIX}" if ":" not in host else f"https://[{host}]:{port}{API_PREFIX}"

    @classmethod
    def for_runtime(cls, runtime: AgentRuntime) -> PeerClient:
        rel = runtime.relationship
        if rel is None:
            raise PeerError("This appliance is in no failover relationship.")
        return cls(rel.peer_host, rel.peer_port, rel.peer_cert_pem, rel.peer_token,
                   what=f"the peer appliance {rel.peer_name!r}")

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The pinned context, for a stream read on a socket of its own (sync/blob_pull.py)."""
        return self._ssl

    @property
    def token(self) -> str | None:
        return self._token

    @property
    def api_prefix(self) -> str:
        return API_PREFIX

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _session(self, timeout: float | None) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout or 10.0, 10.0)),
            connector=aiohttp.TCPConnector(ssl=self._ssl, limit=4))

    def _error(self, exc: BaseException) -> PeerError:
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            return PeerError(f"{self.what.capitalize()} at {self.host}:{self.port} presented a different TLS "
                             "certificate than the one pinned when the relationship was made; if it was reinstalled, "
                             "break and re-establish the relationship.")
        if isinstance(exc, aiohttp.ClientConnectorError):
            return PeerError(describe_connect_error(exc.os_error, self.what, self.host, self.port))
        if isinstance(exc, asyncio.TimeoutError | TimeoutError):
            return PeerError(f"{self.what.capitalize()} at {self.host}:{self.port} did not answer in time.")
        if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
            return PeerError(f"The connection to {self.what} at {self.host}:{self.port} broke off mid-transfer.")
        return PeerError(f"Cannot talk to {self.what} at {self.host}:{self.port}: {exc}.")

    async def request(self, method: str, path: str, json: Any = None, timeout: float = 15.0) -> Any:
        try:
            async with self._session(timeout) as session, session.request(
                    method, self.base + path, json=json, headers=self._headers()) as resp:
                body = await resp.json(content_type=None) if resp.content_length != 0 else None
                if resp.status >= 400:
                    detail = body.get("detail") if isinstance(body, dict) else None
                    raise PeerError(str(detail or f"{self.what} answered HTTP {resp.status}."), resp.status)
                return body
        except PeerError:
            raise
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise self._error(exc) from exc

    async def ping(self, timeout: float = 3.0) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", "/peer/ping", timeout=timeout)
        return result

    @asynccontextmanager
    async def stream(self, method: str, path: str, json: Any = None,
                     params: dict[str, str] | None = None) -> AsyncIterator[aiohttp.StreamReader]:
        """A long streaming response; errors (also mid-stream, from the caller's reads) become PeerError."""
        try:
            async with self._session(None) as session, session.request(
                    method, self.base + path, json=json, params=params, headers=self._headers(),
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)) as resp:
                if resp.status >= 400:
                    body = await resp.json(content_type=None)
                    detail = body.get("detail") if isinstance(body, dict) else None
                    raise PeerError(str(detail or f"{self.what} answered HTTP {resp.status}."), resp.status)
                yield resp.content
        except PeerError:
            raise
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise self._error(exc) from exc
