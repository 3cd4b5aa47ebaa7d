"""The client edge: errors mapped once into categories, SSE parsed and resumed. No network (MockTransport)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from pa_console.console.client.agent_client import AgentClient
from pa_console.console.client.errors import AgentError, ErrorCategory, map_exception
from pa_console.console.client.events import EventStreamReader, parse_sse
from pa_console.console.fingerprints import fingerprint_of_der, normalize_fingerprint, same_fingerprint
from pa_console.protocol.models import Event, FailoverSettingsUpdate


def client_with(handler: httpx.MockTransport) -> AgentClient:
    c = AgentClient.__new__(AgentClient)
    c.host, c.port, c.where = "h", 1, "h:1"
    c._http = httpx.AsyncClient(base_url="https://h:1/api/v1/", transport=handler)
    return c


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_detail_passes_through_and_categories() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("health"):
            return httpx.Response(401, json={"detail": "Bad token."})
        if request.url.path.endswith("relationship"):
            return httpx.Response(403, json={"detail": "The keys differ; compare fingerprints.", "category": "key"})
        if request.url.path.endswith("settings"):
            return httpx.Response(422, json={"detail": [{"loc": ["body", "pull_interval_s"], "msg": "must be >= 1"}]})
        return httpx.Response(200, text="not json")

    async def go() -> list[AgentError]:
        c = client_with(httpx.MockTransport(handler))
        errors = []
        for call in (
            c.health(),
            c.break_relationship(),
            c.update_failover_settings(FailoverSettingsUpdate()),
            c.key_fingerprint(),
        ):
            with pytest.raises(AgentError) as info:
                await call
            errors.append(info.value)
        await c.aclose()
        return errors

    auth, request, invalid, parsing = run(go())
    assert (auth.category, auth.message) == (ErrorCategory.AUTH, "Bad token.")
    assert (request.category, request.message, request.status_code) == (
        ErrorCategory.REQUEST,
        "The keys differ; compare fingerprints.",
        403,
    )
    assert request.agent_category == "key"
    assert invalid.field == "pull_interval_s" and "must be >= 1" in invalid.message
    assert parsing.category == ErrorCategory.PARSING


def test_relationship_404_is_none_and_settings_update_is_partial() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            bodies.append(request.content)
            return httpx.Response(200, json={"auto_failover": True})
        return httpx.Response(404, json={"detail": "No relationship."})

    async def go() -> object:
        c = client_with(httpx.MockTransport(handler))
        rel = await c.relationship()
        await c.update_failover_settings(FailoverSettingsUpdate(auto_failover=True))
        await c.aclose()
        return rel

    assert run(go()) is None
    assert bodies == [b'{"auto_failover":true}']


def test_transport_errors_map_to_connection_and_tls() -> None:
    conn = map_exception(httpx.ConnectError("refused"), "h:1")
    assert conn.category == ErrorCategory.CONNECTION and "h:1" in conn.message
    err = httpx.ConnectError("x")
    err.__cause__ = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] bad")
    tls = map_exception(err, "h:1")
    assert tls.category == ErrorCategory.TLS and "not the one you trusted" in tls.message
    assert map_exception(httpx.ReadTimeout("slow"), "h:1").category == ErrorCategory.CONNECTION


def test_fingerprints() -> None:
    fp = fingerprint_of_der(b"abc")
    assert fp.count(":") == 31 and fp == fp.upper()
    assert same_fingerprint(fp, normalize_fingerprint(fp))
    assert same_fingerprint("sha256:AB:CD", "abcd")
    assert not same_fingerprint("", "")


async def _lines(*chunks: str) -> AsyncIterator[str]:
    for chunk in chunks:
        for line in chunk.split("\n"):
            yield line


def test_parse_sse_full_and_bare_payloads() -> None:
    text = (
        ": keep-alive\n\n"
        'id: 5\nevent: countdown\ndata: {"id": 5, "ts": "2026-01-01T00:00:00Z", "type": "countdown", '
        '"data": {"failover_in_s": 9}}\n\n'
        'id: 6\nevent: sync_progress\ndata: {"phase": "rows",\ndata: "rows_done": 3}\n\n'
        "id: 7\ndata: not json\n\n"
    )

    async def go() -> list[Event]:
        return [e async for e in parse_sse(_lines(text))]

    events = run(go())
    assert [(e.id, e.type) for e in events] == [(5, "countdown"), (6, "sync_progress")]
    assert events[0].data == {"failover_in_s": 9}
    assert events[1].data == {"phase": "rows", "rows_done": 3}


def test_reader_resumes_after_last_id() -> None:
    asked: list[int] = []

    class Source:
        @asynccontextmanager
        async def event_lines(self, after: int) -> AsyncIterator[AsyncIterator[str]]:
            asked.append(after)
            if len(asked) == 2:
                raise AgentError(ErrorCategory.CONNECTION, "down")
            start = after + 1
            yield _lines(
                "".join(
                    f'id: {i}\ndata: {{"id": {i}, "ts": "2026-01-01T00:00:00Z", "type": "x"}}\n\n'
                    for i in range(start, start + 2)
                )
            )

    got: list[int] = []
    errors: list[AgentError] = []

    async def go() -> None:
        reader = EventStreamReader(
            Source(), lambda e: got.append(e.id), on_error=errors.append, min_backoff=0.001, max_backoff=0.001
        )
        task = asyncio.create_task(reader.run())
        while len(asked) < 4:
            await asyncio.sleep(0.001)
        task.cancel()

    run(go())
    assert asked[:4] == [0, 2, 2, 4]
    assert got[:4] == [1, 2, 3, 4]
    assert [e.message for e in errors] == ["down"]


def test_timeouts_say_whether_the_appliance_accepted_the_connection() -> None:
    dropped = map_exception(httpx.ConnectTimeout("timed out"), "h:1")
    assert dropped.category == ErrorCategory.CONNECTION and "did not accept a connection in time" in dropped.message
    hung = httpx.ConnectTimeout("timed out")
    hung.__context__ = ssl.SSLWantReadError(2, "The operation did not complete (read) (_ssl.c:2580)")
    said = map_exception(hung, "h:1")  # TCP accepted, the TLS handshake never answered: a hung agent, not a certificate
    assert said.category == ErrorCategory.CONNECTION and "accepts connections but did not answer" in said.message
    assert "_ssl" not in said.message
