"""The agent's front door: a pure ASGI middleware that authenticates before any byte of the body is read.

FastAPI resolves a request's body before its dependencies, so a token checked in a dependency comes after the whole
body was read and parsed: a 200 MB body without a token took an agent from 81 MB to 2.5 GB (issue 14). Here the
credentials are checked from the headers alone, before `receive()` is ever called, and only then is the body read:
bounded by the endpoint's limit (413 past it, without reading the rest) and by read timeouts (408 for a client that
trickles). A refusal whose body was not read closes the connection, so the rest is never read either.

Who may enter:
- `/check_health`: anyone (load balancers), GET/HEAD, no body.
- `/api/v1/peer/hello` and `/peer/confirm`: anyone; the handshake authenticates by what it proves.
- other `/api/v1/peer/*`: the relationship's peer token only (the admin token is refused).
- everything else: the admin token (identity.json) or a named token; a read-only token only reads.
The caller is put in `request.state.principal` (a `tokens.Principal`).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pa_console.agent.connections import EVICTABLE_KEY
from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.tokens import ADMIN, Principal, TokenStore
from pa_console.protocol.constants import API_PREFIX

PUBLIC_PATHS = frozenset({"/check_health"})
HANDSHAKE_PATHS = frozenset({f"{API_PREFIX}/peer/hello", f"{API_PREFIX}/peer/confirm"})
PEER_PREFIX = f"{API_PREFIX}/peer/"
TOKEN_PATHS_PREFIX = f"{API_PREFIX}/tokens"
# A read-only token may POST here: the route decides by the action (check_health reads, set_failover_role refuses).
READ_ONLY_POSTS = frozenset({"/api/command"})
READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class BodyLimit:
    max_bytes: int
    total_s: float  # the whole body must arrive within this


KIB = 1024
# JSON settings and commands are small; a SyncReport is small; the blob list names up to 100,000 (hash, size) pairs
# (~80 bytes each in JSON).
DEFAULT_LIMIT = BodyLimit(64 * KIB, 30.0)
LIMITS = {
    f"{API_PREFIX}/peer/blobs": BodyLimit(16 * KIB * KIB, 300.0),
    f"{API_PREFIX}/peer/pulled": BodyLimit(256 * KIB, 60.0),
}
BODY_IDLE_S = 15.0  # no byte of the body for this long: the client is gone or stalling


def limit_for(path: str) -> BodyLimit:
    return LIMITS.get(path, DEFAULT_LIMIT)


def bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> bytes | None:
    for name, value in headers:
        if name == wanted:
            return value
    return None


async def _refuse(send: Send, status: int, detail: str, category: str, *, close: bool,
                  extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = orjson.dumps({"detail": detail, "category": category})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:  # the body was not read: end the connection rather than read (or discard) the rest of it
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body, "more_body": False})


UNAUTHENTICATED = "Missing or wrong API token; use the api_token that 'pa-agent info' prints, or a named token."
NOT_PEER = "This appliance is not in a failover relationship with the caller."


class FrontDoor:
    def __init__(self, app: ASGIApp, runtime: AgentRuntime, tokens: TokenStore) -> None:
        self.app = app
        self.runtime = runtime
        self.tokens = tokens

    def _principal(self, path: str, token: str | None) -> Principal | None:
        if token is None:
            return None
        if path.startswith(PEER_PREFIX):
            rel = self.runtime.relationship
            ok = rel is not None and hmac.compare_digest(token.encode("utf-8", "surrogatepass"),
                                                         rel.peer_token.encode())
            return Principal(rel.peer_name, kind="peer") if ok and rel is not None else None
        if hmac.compare_digest(token.encode("utf-8", "surrogatepass"), self.runtime.identity.api_token.encode()):
            return Principal(ADMIN, kind="admin")
        return self.tokens.authenticate(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        has_body = _header(headers, b"transfer-encoding") is not None or \
            _header(headers, b"content-length") not in (None, b"0")
        if path in PUBLIC_PATHS:
            principal = Principal("anonymous", kind="public")  # GET/HEAD routes: other methods get the router's 405
        elif path in HANDSHAKE_PATHS:
            principal = Principal("handshake", kind="public")
        else:
            found = self._principal(path, bearer(headers))
            if found is None:
                peer = path.startswith(PEER_PREFIX)
                await _refuse(send, 401, NOT_PEER if peer else UNAUTHENTICATED, "auth", close=has_body,
                              extra=None if peer else [(b"www-authenticate", b"Bearer")])
                return
            principal = found
        if principal.read_only and method not in READ_METHODS and path not in READ_ONLY_POSTS:
            await _refuse(send, 403, f"The token {principal.name!r} is read-only; this needs a token with full "
                                     "access.", "auth", close=has_body)
            return
        if principal.read_only and path.startswith(TOKEN_PATHS_PREFIX):
            await _refuse(send, 403, "Managing API tokens needs a token with full access.", "auth", close=has_body)
            return
        state = dict(scope.get("state") or {})
        state["principal"] = principal
        scope = {**scope, "state": state}
        if has_body:
            # A body nobody vouched for yet (the handshake, /check_health) must not hold a connection the peer or
            # the administrator needs: while it is read, the connection may be closed to make room.
            evictable = scope.get(EVICTABLE_KEY) if principal.kind == "public" else None
            if evictable is not None:
                evictable(True)
            try:
                replay = await self._read_body(path, headers, receive, send)
            finally:
                if evictable is not None:
                    evictable(False)
            if replay is None:
                return
            receive = replay
        await self.app(scope, receive, send)

    async def _read_body(self, path: str, headers: list[tuple[bytes, bytes]], receive: Receive,
                         send: Send) -> Receive | None:
        """Read the body, at most the endpoint's limit, within the time limits; None if refused (already answered)."""
        limit = limit_for(path)
        too_large = (f"The request body is larger than this endpoint takes ({limit.max_bytes} bytes); "
                     "send less, or see the API list in the README.")
        length = _header(headers, b"content-length")
        if length is not None:
            if not length.isdigit() or len(length) > 18:
                await _refuse(send, 400, "The Content-Length header is not a number.", "request", close=True)
                return None
            if int(length) > limit.max_bytes:
                await _refuse(send, 413, too_large, "request", close=True)
                return None
        messages: list[Message] = []
        size = 0
        deadline = time.monotonic() + limit.total_s
        while True:
            wait = min(BODY_IDLE_S, deadline - time.monotonic())
            try:
                message = await asyncio.wait_for(receive(), max(wait, 0.001))
            except TimeoutError:
                await _refuse(send, 408, "The request body did not arrive in time; send it at once.", "request",
                              close=True)
                return None
            if message["type"] != "http.request":
                return None  # the client went away
            size += len(message.get("body", b""))
            if size > limit.max_bytes:
                await _refuse(send, 413, too_large, "request", close=True)
                return None
            messages.append(message)
            if not message.get("more_body", False):
                break
        pending = iter(messages)

        async def replay() -> Message:
            for message in pending:
                return message
            return await receive()  # later reads: the client going away, as before

        return replay
