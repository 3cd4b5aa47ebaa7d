"""Server-Sent Events: the kept history after a number, then live events, with keep-alives."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from pa_console.agent.auth import Admin, Runtime, bearer, principal_of
from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.tokens import TokenStore
from pa_console.protocol.models import Event

router = APIRouter(dependencies=[Admin])

_KEEPALIVE_S = 10.0
# Other processes (pa-agent seed) also append events; poll for those this often.
_POLL_S = 1.0


def format_sse(event: Event) -> bytes:
    return f"id: {event.id}\nevent: {event.type}\ndata: {event.model_dump_json()}\n\n".encode()


def _still_allowed(request: Request) -> Callable[[], bool]:
    """Whether the stream's caller may still read: a named token revoked while its stream is open (the front door
    checked it once, at the start) must not go on receiving events; it did, for as long as it stayed connected."""
    principal = principal_of(request)
    token = bearer(request)
    if principal is None or principal.kind != "token" or token is None:
        return lambda: True  # the appliance's own token (identity.json) is not revoked while serving
    tokens: TokenStore = request.app.state.tokens
    return lambda: tokens.authenticate(token) is not None


async def _stream(runtime: AgentRuntime, request: Request, after: int, follow: bool,
                  allowed: Callable[[], bool] = lambda: True) -> AsyncIterator[bytes]:
    waiter = runtime.bus.waiter()
    idle = 0.0
    try:
        yield b"retry: 2000\n\n"
        while True:
            # Inline: a stat and a hash (the token file is re-read only when it changed), not worth a thread hop.
            if not allowed():
                return  # revoked: the client's reconnection then gets 401
            waiter.clear()
            batch = await asyncio.to_thread(runtime.bus.store.after, after)
            for event in batch:
                after = event.id
                yield format_sse(event)
            if batch:
                idle = 0.0
                continue
            if not follow:
                return
            if await request.is_disconnected():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), _POLL_S)
            idle += _POLL_S
            if idle >= _KEEPALIVE_S:
                idle = 0.0
                yield b": keep-alive\n\n"
    finally:
        runtime.bus.drop(waiter)


MAX_EVENT_ID = 2**63 - 1  # SQLite's largest integer


def _last_event_id(header: str) -> int | None:
    """An id the client saw, or None (then only new events are sent): a header that is not a plain decimal number
    of SQLite's range (e.g. '²', which str.isdigit() accepts, or 5000 digits) is ignored, as the SSE standard says."""
    header = header.strip()
    if not header or len(header) > 19 or not header.isascii() or not header.isdecimal():
        return None
    value = int(header)
    return value if value <= MAX_EVENT_ID else None


@router.get("/events")
async def events(runtime: Runtime, request: Request,
                 after: int | None = Query(default=None, ge=0, le=MAX_EVENT_ID,
                                           description="send the kept events after this id"),
                 follow: bool = Query(default=True, description="keep the stream open for live events")
                 ) -> StreamingResponse:
    if after is None:
        after = _last_event_id(request.headers.get("last-event-id", ""))
    if after is None:
        after = await asyncio.to_thread(runtime.bus.store.last_id)
    return StreamingResponse(_stream(runtime, request, after, follow, _still_allowed(request)),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
