"""The agent's Server-Sent Events: a parser, and a reader that reconnects and resumes from the last id."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import pydantic

from pa_console.console.client.errors import AgentError
from pa_console.protocol.events import UnknownEvent
from pa_console.protocol.models import Event

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    id: str | None = None
    type: str | None = None
    data: list[str] = field(default_factory=list)


def _to_event(pending: _Pending) -> Event | None:
    text = "\n".join(pending.data)
    try:
        payload = json.loads(text) if text else {}
    except json.JSONDecodeError:
        log.warning("ignoring an event whose data is not JSON: %.80s", text)
        return None
    if isinstance(payload, dict) and {"id", "type"} <= payload.keys():
        try:
            return Event.model_validate(payload)
        except pydantic.ValidationError:
            log.warning("ignoring a malformed event: %.80s", text)
            return None
    # A bare data payload: build the event from the SSE fields.
    if pending.id is None or not pending.id.isdigit():
        return None
    return Event(
        id=int(pending.id),
        ts=datetime.now(UTC),
        type=pending.type or "message",
        data=payload if isinstance(payload, dict) else {"value": payload},
    )


async def parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[Event]:
    """Turn SSE text lines into protocol Events (comments and keep-alives are skipped)."""
    pending = _Pending()
    async for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if pending.data:
                event = _to_event(pending)
                if event is not None:
                    yield event
            pending = _Pending()
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "id":
            pending.id = value
        elif name == "event":
            pending.type = value
        elif name == "data":
            pending.data.append(value)


def _typed_at_the_edge(event: Event) -> None:
    """Parse the event's data into its model once, here; the state and notifier match on `event.body`."""
    body = event.body
    if isinstance(body, UnknownEvent):
        # A newer agent's event type (or data this version cannot read): kept raw, shown in the timeline.
        log.debug("event %s #%d kept raw%s", body.type, event.id, f": {body.problem}" if body.problem else "")


class EventSource(Protocol):
    def event_lines(self, after: int) -> AbstractAsyncContextManager[AsyncIterator[str]]: ...


class EventStreamReader:
    """Reads an agent's events forever: reconnects with backoff and resumes after the last id it saw."""

    def __init__(
        self,
        source: EventSource,
        on_event: Callable[[Event], None],
        *,
        on_connected: Callable[[], None] = lambda: None,
        on_error: Callable[[AgentError], None] = lambda _e: None,
        after: int = 0,
        min_backoff: float = 0.5,
        max_backoff: float = 10.0,
    ) -> None:
        self._source = source
        self._on_event = on_event
        self._on_connected = on_connected
        self._on_error = on_error
        self.last_id = after
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff

    async def run(self) -> None:
        backoff = self._min_backoff
        while True:
            try:
                async with self._source.event_lines(self.last_id) as lines:
                    self._on_connected()
                    backoff = self._min_backoff
                    async for event in parse_sse(lines):
                        if event.id <= self.last_id:
                            continue  # a duplicate after a resume
                        self.last_id = event.id
                        _typed_at_the_edge(event)
                        self._on_event(event)
            except AgentError as exc:
                self._on_error(exc)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)
