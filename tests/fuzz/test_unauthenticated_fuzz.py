"""Schema-based fuzz of every endpoint WITHOUT valid credentials (issue 14): whatever the body, query or headers, an
unauthenticated request gets 401 (the peer handshake, which authenticates by proof, gets a 4xx or its challenge),
never a 2xx, 5xx or a traceback, and changes nothing. Plus fuzzed headers (Last-Event-ID, Authorization, lengths)
with and without the token.

    FUZZ_EXAMPLES=100 python -m pytest tests/fuzz/test_unauthenticated_fuzz.py -m long   # the long run
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.core import NOT_SET
from schemathesis.generation import GenerationMode

from tests.fuzz.support import keep_on_loopback, log_problems, openapi_spec, snapshot
from tests.harness import RunningAgent

HANDSHAKE = ("/api/v1/peer/hello", "/api/v1/peer/confirm")
# What may stand in an HTTP field value (visible characters, space, tab, obs-text); a control character is refused
# by the HTTP parser itself (uvicorn/httptools: a plain 400) before any application code runs.
FIELD_CHARS = st.characters(min_codepoint=0x20, max_codepoint=0x2FF, blacklist_characters="\x7f")
ODD_VALUES = ["²", "9" * 5000, "-1", "99999999999999999999", "٣", "0x10", " 1", "1 ", ""]
HEADER_TEXT = st.text(FIELD_CHARS, max_size=60) | st.sampled_from(ODD_VALUES)


def _field(value: str) -> bytes:
    try:
        return value.encode("latin-1")  # how servers decode header values
    except UnicodeEncodeError:
        return value.encode("utf-8")


class Door:
    def __init__(self, agent: RunningAgent) -> None:
        self.agent = agent
        self.client = agent.client(timeout=20)
        self.client.headers.pop("Authorization")
        self.failures: list[str] = []
        self.by_status: dict[int, int] = {}

    def send(self, method: str, path: str, headers: dict[str, Any], expect_401: bool, **kw: Any) -> None:
        raw = {k: _field(v) for k, v in headers.items()}
        what = f"{method} {path} headers={str(headers)[:120]} {str(kw)[:200]}"
        try:
            r = self.client.request(method, path, headers=raw, **kw)
        except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError):
            return  # refused by our own client: nothing was sent
        except httpx.HTTPError as exc:
            self.failures.append(f"{what}: no answer ({exc!r})")
            return
        self.by_status[r.status_code] = self.by_status.get(r.status_code, 0) + 1
        if r.status_code >= 500 or "Traceback" in r.text:
            self.failures.append(f"{what}: {r.status_code} {r.text[:200]}")
        elif expect_401 and r.status_code != 401:
            self.failures.append(f"{what}: {r.status_code} without valid credentials: {r.text[:200]}")
        elif r.status_code >= 400 and not (r.headers.get("content-type", "").startswith("application/json")
                                           and r.json().get("detail")):
            self.failures.append(f"{what}: {r.status_code} without a detail sentence")


def _credentials(agent: RunningAgent, path: str) -> list[dict[str, str]]:
    wrong = [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic YWRtaW46YWRtaW4="},
             {"Authorization": "Bearer " + "a" * 500}, {"Authorization": "bearer"}]
    if path.startswith("/api/v1/peer/"):
        wrong.append({"Authorization": f"Bearer {agent.token}"})  # the admin token is not a peer token
    return wrong


def fuzz_without_credentials(agent: RunningAgent, spec: dict[str, Any], examples: int) -> Door:
    door = Door(agent)
    common = settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    for result in schemathesis.openapi.from_dict(spec).get_all_operations():
        op = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @common
            @given(case=op.as_strategy(generation_mode=mode), extra=HEADER_TEXT)
            def one(case: Any, extra: str) -> None:
                query = dict(case.query or {})
                if case.path.endswith("/events"):
                    query["follow"] = "false"
                kw: dict[str, Any] = {"params": query}
                if isinstance(case.body, bytes | bytearray):
                    kw["content"] = bytes(case.body)
                elif case.body is not NOT_SET:
                    kw["json"] = keep_on_loopback(case.body)
                path = "/api/v1" + case.formatted_path if not case.formatted_path.startswith("/api") \
                    else case.formatted_path
                for creds in _credentials(agent, path):
                    door.send(case.method.upper(), path, {**creds, "Last-Event-ID": extra},
                              expect_401=path not in HANDSHAKE and not path.startswith("/check_health"), **kw)

            try:
                one()
            except (Unsatisfiable, schemathesis.errors.SerializationNotPossible):  # type: ignore[attr-defined]
                pass
    return door


def fuzz_headers_with_the_token(agent: RunningAgent, examples: int) -> Door:
    door = Door(agent)
    common = settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))

    @common
    @given(last=HEADER_TEXT, length=HEADER_TEXT, ctype=HEADER_TEXT, after=HEADER_TEXT)
    def one(last: str, length: str, ctype: str, after: str) -> None:
        auth = {"Authorization": f"Bearer {agent.token}"}
        door.send("GET", "/api/v1/events", {**auth, "Last-Event-ID": last}, expect_401=False,
                  params={"follow": "false"})
        door.send("GET", "/api/v1/events", auth, expect_401=False, params={"follow": "false", "after": after})
        door.send("PUT", "/api/v1/failover/settings", {**auth, "Content-Type": ctype}, expect_401=False,
                  content=b'{"pull_interval_s": 300}')
        door.send("GET", "/api/v1/failover/health", {**auth, "X-Odd": length}, expect_401=False)

    one()
    return door


def _run(agents, tmp_path, examples: int) -> None:  # type: ignore[no-untyped-def]
    agent = agents("door")
    with agent.client() as c:
        before = snapshot(c)
    door = fuzz_without_credentials(agent, openapi_spec(tmp_path), examples)
    print(f"\nwithout credentials: statuses {sorted(door.by_status.items())}")
    assert not door.failures, "\n".join(door.failures[:20])
    assert door.by_status.get(401, 0) > 100
    with agent.client() as c:
        after = snapshot(c)
    assert after == before, "a request without valid credentials changed something"
    headers = fuzz_headers_with_the_token(agent, examples * 5)
    print(f"fuzzed headers: statuses {sorted(headers.by_status.items())}")
    assert not headers.failures, "\n".join(headers.failures[:20])
    assert agent.proc is not None and agent.proc.poll() is None
    assert not log_problems(agent), log_problems(agent)[:5]


def test_fuzz_without_credentials(agents, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _run(agents, tmp_path, int(os.environ.get("FUZZ_EXAMPLES", "4")))


@pytest.mark.long
@pytest.mark.timeout(3600)
def test_fuzz_without_credentials_long(agents, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _run(agents, tmp_path, int(os.environ.get("FUZZ_EXAMPLES", "100")))
