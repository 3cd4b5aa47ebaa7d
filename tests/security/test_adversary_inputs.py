"""Inputs found by probing a real agent as an adversary would, each answered with a 4xx sentence that says what to
do (never a 5xx, never a vague validator message), and nothing changed."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import httpx

from tests.faults.support import make_pair
from tests.harness import RunningAgent, pinned_context, run_cli, wait_until
from tests.security.support import read_response, tls_socket
from tests.security.test_peer_security import _peer_token, _state

JSON_HINT = "Content-Type: application/json"


def test_bodies_that_are_not_json_objects_are_told_how_to_send_one(agents: Callable[..., RunningAgent]) -> None:
    agent = agents("alpha")
    before = agent.get("/api/v1/failover/settings")
    body = json.dumps({"pull_interval_s": 120})
    cases = {
        "no content type": {"content": body, "headers": {}},
        "text/plain": {"content": body, "headers": {"Content-Type": "text/plain"}},
        "form": {"content": body, "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        "no body": {"headers": {"Content-Type": "application/json"}},
        "a list": {"content": "[]", "headers": {"Content-Type": "application/json"}},
    }
    for what, kw in cases.items():
        r = agent.request("PUT", "/api/v1/failover/settings", **kw)  # type: ignore[arg-type]
        assert r.status_code == 422, (what, r.text)
        detail = r.json()["detail"]
        assert JSON_HINT in detail and "valid dictionary" not in detail, (what, detail)
    for number in ("NaN", "Infinity", "-Infinity"):
        r = agent.request("PUT", "/api/v1/failover/settings", content=f'{{"pull_interval_s": {number}}}',
                          headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and "finite number" in r.json()["detail"], (number, r.text)
    assert agent.get("/api/v1/failover/settings") == before


def test_a_key_file_emptied_while_serving_is_never_used_as_a_key(agents: Callable[..., RunningAgent]) -> None:
    agent = agents("alpha")
    key_file = agent.data_dir / "inter-appliance.key"
    key_file.write_text("")  # an administrator's slip, or a full disk when it was written
    hello = {"nonce_p": secrets.token_hex(16), "primary_name": "mallory", "version": "0.1.0", "schema_version": 2,
             "primary_cert_pem": agent.cert_pem, "reverse": {"host": "127.0.0.1", "port": 1}, "epoch": 0}
    with httpx.Client(base_url=agent.url, verify=pinned_context(agent.cert_pem), timeout=30) as c:
        r = c.post("/api/v1/peer/hello", json=hello)  # no token: the handshake proves itself
    assert r.status_code == 409, r.text
    assert "proof" not in r.json() and "inter-appliance.key" in r.json()["detail"], r.text
    r = agent.request("GET", "/api/v1/security/key")
    assert r.status_code == 409 and "too short" in r.json()["detail"], r.text
    # Fixed through the API: the new key is used at once.
    r = agent.request("PUT", "/api/v1/security/key", json={"key": secrets.token_hex(32)})
    assert r.status_code == 200, r.text
    assert agent.request("GET", "/api/v1/security/key").status_code == 200
    assert "Traceback" not in agent.output()


def test_peer_numbers_out_of_range_are_422_and_change_nothing(agents: Callable[..., RunningAgent]) -> None:
    """Negative or huge chunk indexes, epochs and change numbers from the peer: /peer/blobs promised 1.3 MB then
    broke off (EINVAL) or answered 500, and an epoch of 2**63-1 overflowed SQLite in the promotion."""
    pair = make_pair(agents)
    try:
        p, b = pair.primary, pair.backup
        p.seed(2, 50_000)
        token = _peer_token(p)
        with sqlite3.connect(p.data_dir / "site.db") as conn:
            rid = str(conn.execute("SELECT id FROM recordings LIMIT 1").fetchone()[0])
        before = (_state(p), _state(b))
        big = 2**63 - 1
        calls = [(p, "/api/v1/peer/blobs", {"items": [[rid, start]]}) for start in (-1, -5, 10**30, big)]
        calls += [(p, "/api/v1/peer/blobs", {"items": [["x" * 100_000, 0]]}),
                  (b, "/api/v1/peer/heartbeat", {"name": p.name, "role": "primary", "epoch": 10**30}),
                  (b, "/api/v1/peer/failover/become-primary", {"requested_by": p.name, "epoch": big}),
                  (p, "/api/v1/peer/failover/step-down", {"requested_by": b.name, "store_id": "s", "seq": 2**70})]
        for agent, path, body in calls:
            with agent.client(token=token) as c:
                r = c.post(path, json=body)
            assert r.status_code == 422, (path, body, r.status_code, r.text[:200])
            assert r.json()["detail"].startswith("Invalid request: "), r.text
        assert (_state(p), _state(b)) == before
        for agent in (p, b):
            assert "Traceback" not in agent.output(), agent.output()[-3000:]
        with p.client(token=token) as c:  # the well-formed call still works (the test can fail)
            assert c.post("/api/v1/peer/blobs", json={"items": [[rid, 0]]}).status_code == 200
    finally:
        pair.stop()


def test_requests_that_are_not_http_get_a_json_sentence(agents: Callable[..., RunningAgent]) -> None:
    """uvicorn answered these with a bare text/plain "Invalid HTTP request received.", and an Upgrade request logged
    advice to install a WebSocket library (which would hand connections to a protocol the guard does not see)."""
    agent = agents("alpha")
    auth = f"Authorization: Bearer {agent.token}\r\n"
    bad = {
        "Content-Length and chunked": "PUT /api/v1/failover/settings HTTP/1.1\r\nHost: x\r\n" + auth +
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        "garbled chunk": "PUT /api/v1/failover/settings HTTP/1.1\r\nHost: x\r\n" + auth +
        "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        "NUL in the path": "GET /api/v1/failover/health\0 HTTP/1.1\r\nHost: x\r\n\r\n",
        "HTTP/2 preface": "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    }
    for what, raw in bad.items():
        with tls_socket(agent) as sock:
            sock.sendall(raw.encode("latin-1"))
            status, headers, body = read_response(sock)
        assert status == 400 and headers["content-type"] == "application/json", (what, status, headers, body)
        assert json.loads(body)["detail"].endswith("such as curl."), (what, body)
    with tls_socket(agent, timeout=5) as sock:
        sock.sendall(("GET /api/v1/failover/health HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + auth +
                      "\r\n").encode())
        status, _, _ = read_response(sock)
    assert status == 200  # served as plain HTTP
    assert "pip install" not in agent.output() and "WebSocket library" not in agent.output()
    assert agent.get("/api/v1/failover/health")["name"] == "alpha"


def test_a_partial_email_put_keeps_the_fields_it_leaves_out(agents: Callable[..., RunningAgent]) -> None:
    """PUT /email of only the recipients wiped the server, sender and password (an empty body wiped all of it)."""
    agent = agents("alpha")
    full = {"host": "relay.example.com", "port": 587, "security": "starttls", "username": "pa", "password": "pw-1",
            "sender": "pa@example.com", "recipients": ["ops@example.com"]}
    assert agent.request("PUT", "/api/v1/email", json=full).status_code == 200
    r = agent.request("PUT", "/api/v1/email", json={"recipients": ["oncall@example.com"]})
    assert r.status_code == 200, r.text
    assert agent.request("PUT", "/api/v1/email", json={}).status_code == 200
    got = agent.get("/api/v1/email")
    assert got["host"] == "relay.example.com" and got["port"] == 587 and got["sender"] == "pa@example.com", got
    assert got["recipients"] == ["oncall@example.com"] and got["password_set"] is True, got
    # A field given is still validated, and a refused PUT changes nothing.
    r = agent.request("PUT", "/api/v1/email", json={"recipients": ["oncall@example.com"], "port": 0})
    assert r.status_code == 422 and agent.get("/api/v1/email") == got
    # Clearing stays possible by saying so.
    r = agent.request("PUT", "/api/v1/email", json={"host": "", "password": ""})
    assert r.status_code == 200 and r.json()["host"] == "" and r.json()["password_set"] is False, r.text


def test_key_changes_at_once_all_answer_and_the_stored_key_is_one_answered(
        agents: Callable[..., RunningAgent]) -> None:
    """Twelve key generations at once (one shared temporary file name): most answered 500, and the key left on disk
    was none of those answered, so an administrator would copy a key the appliance does not hold."""
    agent = agents("alpha")

    async def call(method: str, body: Any = None) -> httpx.Response:
        async with httpx.AsyncClient(base_url=agent.url, verify=pinned_context(agent.cert_pem), timeout=60,
                                     headers={"Authorization": f"Bearer {agent.token}"}) as client:
            if method == "PUT":
                return await client.put("/api/v1/security/key", json=body)
            return await client.post("/api/v1/security/key/generate")

    async def at_once() -> list[httpx.Response]:
        calls = [call("POST") for _ in range(10)] + [call("PUT", {"key": secrets.token_hex(32)}) for _ in range(4)]
        return list(await asyncio.gather(*calls))

    for _ in range(2):
        answers = asyncio.run(at_once())
        assert [r.status_code for r in answers] == [200] * len(answers), [r.text for r in answers]
        stored = agent.get("/api/v1/security/key")["fingerprint"]
        assert stored in {r.json()["fingerprint"] for r in answers}
    assert not [p.name for p in agent.data_dir.iterdir() if p.name.endswith(".tmp")]
    assert "Traceback" not in agent.output()


def test_a_refused_settings_put_leaves_the_tsig_secret_alone(agents: Callable[..., RunningAgent]) -> None:
    """The write-only TSIG secret was stored before the merged settings were validated: a PUT refused with 422
    changed it, or deleted it while the settings still said tsig_secret_set (the DNS swing would then fail at the
    takeover)."""
    agent = agents("alpha")
    dns = {"server": "127.0.0.1", "zone": "example.com", "record": "pa", "tsig_key_name": "k", "address": "10.0.0.1",
           "tsig_secret": base64.b64encode(secrets.token_bytes(32)).decode()}

    def stored() -> Any:
        with sqlite3.connect(agent.data_dir / "site.db") as conn:
            row = conn.execute("SELECT value FROM local WHERE key = 'dns_swing_tsig_secret'").fetchone()
        return row

    assert agent.request("PUT", "/api/v1/failover/settings", json={"dns_swing": dns}).status_code == 200
    before = (stored(), agent.get("/api/v1/failover/settings"))
    assert before[0] is not None
    other = base64.b64encode(secrets.token_bytes(32)).decode()
    for refused in ({"dns_swing": {**dns, "tsig_secret": other}, "pull_interval_s": None},
                    {"dns_swing": None, "primary_timeout_s": None}):
        r = agent.request("PUT", "/api/v1/failover/settings", json=refused)
        assert r.status_code == 422, r.text
        assert (stored(), agent.get("/api/v1/failover/settings")) == before


def test_settings_puts_at_once_each_keep_their_change(agents: Callable[..., RunningAgent]) -> None:
    """Two consoles changing different settings at the same moment: each PUT read, merged and wrote the whole
    settings on its own, so of ten PUTs at once (all answered 200) most changes were lost."""
    agent = agents("alpha")
    fields: dict[str, Any] = {"pull_interval_s": 111.0, "first_sync_delay_s": 22.0, "primary_timeout_s": 333.0,
                              "no_pull_alert_s": 4444.0, "auto_failover": True, "probe_interval_s": 0.7,
                              "verify_interval_s": 5555.0, "verify_rate_mb_s": 66.0, "witness": ["127.0.0.1:1"],
                              "sync_enabled": False}
    email: dict[str, Any] = {"host": "relay.example.com", "sender": "pa@example.com",
                             "recipients": ["ops@example.com"], "port": 587, "username": "pa"}

    async def put(path: str, body: dict[str, Any]) -> int:
        async with httpx.AsyncClient(base_url=agent.url, verify=pinned_context(agent.cert_pem), timeout=60,
                                     headers={"Authorization": f"Bearer {agent.token}"}) as client:
            return (await client.put(path, json=body)).status_code

    async def at_once() -> list[int]:
        calls = [put("/api/v1/failover/settings", {k: v}) for k, v in fields.items()]
        calls += [put("/api/v1/email", {k: v}) for k, v in email.items()]
        return list(await asyncio.gather(*calls))

    for _ in range(3):
        assert agent.request("PUT", "/api/v1/failover/settings", json={"pull_interval_s": 300, "witness": [],
                             "sync_enabled": True, "auto_failover": False}).status_code == 200
        assert agent.request("PUT", "/api/v1/email", json={"host": "", "sender": "", "recipients": [], "port": 25,
                                                           "username": ""}).status_code == 200
        assert asyncio.run(at_once()) == [200] * (len(fields) + len(email))
        settings, got = agent.get("/api/v1/failover/settings"), agent.get("/api/v1/email")
        assert {k: settings[k] for k in fields} == fields
        assert {k: got[k] for k in email} == email


def test_a_revoked_token_loses_its_open_event_stream(agents: Callable[..., RunningAgent]) -> None:
    """The front door checks a token when the request starts; an event stream opened before a revoke went on
    receiving events for as long as it stayed connected."""
    agent = agents("alpha")
    token = run_cli("token", "create", str(agent.data_dir), "watcher", "--read-only").stdout.strip()
    seen: list[str] = []
    opened, ended = threading.Event(), threading.Event()

    def watch() -> None:
        try:
            with httpx.Client(base_url=agent.url, verify=pinned_context(agent.cert_pem),
                              timeout=httpx.Timeout(30, read=60)) as client, \
                    client.stream("GET", "/api/v1/events", headers={"Authorization": f"Bearer {token}"}) as r:
                for line in r.iter_lines():
                    opened.set()
                    if line.startswith("event:"):
                        seen.append(line)
        except httpx.HTTPError as exc:
            seen.append(f"error: {exc!r}")
        finally:
            ended.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    assert opened.wait(20), "the stream did not open"
    assert agent.request("PUT", "/api/v1/failover/settings", json={"pull_interval_s": 120}).status_code == 200
    wait_until(lambda: seen, timeout=20, what="the stream to see the first change")  # the test can fail
    assert agent.request("DELETE", "/api/v1/tokens/watcher").status_code == 200
    assert ended.wait(20), "the revoked token's stream stayed open"
    count = len(seen)
    assert agent.request("PUT", "/api/v1/failover/settings", json={"pull_interval_s": 130}).status_code == 200
    with httpx.Client(base_url=agent.url, verify=pinned_context(agent.cert_pem), timeout=10) as client:
        r = client.get("/api/v1/events", params={"follow": "false"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and len(seen) == count
    assert not [line for line in seen if line.startswith("error")], seen  # ended cleanly, not cut off
