"""The front door as an ASGI middleware in front of the real agent app, driven message by message: nothing of the body
is read before the credentials pass, a stalled body gets 408, and the read-only scope."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import Request

from pa_console.agent import front_door
from pa_console.agent.app import create_app
from pa_console.agent.identity import create_identity
from pa_console.agent.paths import DataDir
from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.store.db import Database
from pa_console.agent.tokens import TokenStore


@pytest.fixture
def app(tmp_path: Path) -> Any:
    data_dir = DataDir(tmp_path / "agent")
    identity = create_identity(data_dir, "unit", None, [])
    db = Database(data_dir.db)
    try:
        yield create_app(AgentRuntime(identity, db)), identity.api_token, data_dir
    finally:
        db.close()


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "https",
            "path": path, "raw_path": path.encode(), "query_string": b"", "headers": headers, "client": ("t", 1),
            "server": ("t", 2), "root_path": "", "state": {}}


async def _call(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]],
                body: list[bytes] | None, stall_after: int | None = None) -> tuple[int, dict[str, Any], int]:
    """Returns the status, the JSON answer and how many body messages the app asked for."""
    asked = 0
    chunks = list(body or [b""])

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        if stall_after is not None and asked > stall_after:
            await asyncio.sleep(3600)
        if chunks:
            piece = chunks.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(chunks) or stall_after is not None}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(_scope(method, path, headers), receive, send), 10)
    status = sent[0]["status"]
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    return status, orjson.loads(payload) if payload else {}, asked


def test_no_body_is_read_before_the_token_passes(app: Any) -> None:
    application, _token, _ = app
    for auth in ([], [(b"authorization", b"Bearer nope")], [(b"authorization", b"Basic x")]):
        status, answer, asked = asyncio.run(_call(application, "PUT", "/api/v1/email",
                                                  [(b"content-length", b"9"), *auth], [b"{not json"]))
        assert (status, asked) == (401, 0), (status, answer)
        assert "token" in answer["detail"]


def test_a_stalled_body_gets_408(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    application, token, _ = app
    monkeypatch.setattr(front_door, "BODY_IDLE_S", 0.2)
    status, answer, _ = asyncio.run(_call(application, "PUT", "/api/v1/email",
                                          [(b"authorization", f"Bearer {token}".encode()),
                                           (b"content-length", b"100")], [b'{"host":'], stall_after=1))
    assert status == 408 and "did not arrive in time" in answer["detail"]


def test_content_length_past_the_limit_is_refused_before_reading(app: Any) -> None:
    application, token, _ = app
    status, answer, asked = asyncio.run(_call(application, "PUT", "/api/v1/failover/settings",
                                              [(b"authorization", f"Bearer {token}".encode()),
                                               (b"content-length", str(10**9).encode())], [b"{}"]))
    assert (status, asked) == (413, 0) and "larger than this endpoint takes" in answer["detail"]


def test_read_only_tokens_read_and_nothing_else(app: Any) -> None:
    application, _, data_dir = app
    reader = TokenStore(data_dir.tokens).create("reader", read_only=True)
    auth = [(b"authorization", f"Bearer {reader}".encode())]
    status, _, _ = asyncio.run(_call(application, "GET", "/api/v1/failover/settings", auth, None))
    assert status == 200
    for method, path in (("PUT", "/api/v1/failover/settings"), ("DELETE", "/api/v1/failover/relationship"),
                         ("POST", "/api/v1/security/key/generate"), ("GET", "/api/v1/tokens")):
        status, answer, asked = asyncio.run(_call(application, method, path, [*auth, (b"content-length", b"2")],
                                                  [b"{}"]))
        assert (status, asked) == (403, 0), (method, path, status, answer)


def test_the_principal_reaches_the_routes(app: Any) -> None:
    application, token, data_dir = app

    @application.get("/api/v1/whoami-test")
    def whoami(request: Request) -> dict[str, Any]:
        return {"name": request.state.principal.name, "read_only": request.state.principal.read_only}

    named = TokenStore(data_dir.tokens).create("robot", read_only=True)
    for tok, expected in ((token, ("admin", False)), (named, ("robot", True))):
        status, answer, _ = asyncio.run(_call(application, "GET", "/api/v1/whoami-test",
                                              [(b"authorization", f"Bearer {tok}".encode())], None))
        assert status == 200 and (answer["name"], answer["read_only"]) == expected
