"""The agent's front door (issue 14, points 1 and 4): credentials before the body, bounded bodies, named tokens with a
read-only scope, and no 5xx or traceback from odd headers, queries or bodies. Real agents over real TLS."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.fuzz.support import log_problems
from tests.harness import RunningAgent, run_cli
from tests.security.support import memory_kib, read_response, request_with_endless_body, tls_socket

MB = 1 << 20


def _head(method: str, path: str, extra: str = "", length: int | None = None, chunked: bool = False) -> str:
    lines = [f"{method} {path} HTTP/1.1", "Host: appliance", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    return "\r\n".join(lines) + "\r\n" + extra + "\r\n"


@pytest.mark.parametrize("auth", ["", "Authorization: Bearer wrong-token\r\n"], ids=["no token", "wrong token"])
def test_a_200_mb_body_without_a_valid_token_is_refused_before_it_is_read(agents, auth: str) -> None:  # type: ignore[no-untyped-def]
    agent = agents("big")
    assert agent.proc is not None
    before = memory_kib(agent.proc.pid)
    for chunked in (False, True):
        head = _head("PUT", "/api/v1/email", auth, None if chunked else 200 * MB, chunked)
        status, headers, body, sent = request_with_endless_body(agent, head, 200 * MB, chunked=chunked)
        assert status == 401, body
        assert "token" in json.loads(body)["detail"]
        assert headers.get("connection") == "close"
        # Not asserted on `sent`: after the agent's TLS close_notify, asyncio drops what the client still writes
        # without an error, so the client's count says nothing about what the agent read. The agent's memory does.
        del sent
    after = memory_kib(agent.proc.pid)
    growth = (after["VmHWM"] - before["VmHWM"]) / 1024
    print(f"peak RSS {before['VmHWM'] / 1024:.0f} -> {after['VmHWM'] / 1024:.0f} MB (+{growth:.1f} MB)")
    assert growth < 20, f"peak RSS grew by {growth:.0f} MB for refused requests"
    assert agent.health()["name"] == "big"


def test_malformed_json_without_a_token_gets_401_not_422(agents) -> None:  # type: ignore[no-untyped-def]
    agent = agents("malformed")
    with agent.client() as c:
        c.headers.pop("Authorization")
        for path in ("/api/v1/email", "/api/v1/failover/settings", "/api/v1/no-such-thing"):
            r = c.put(path, content=b"{not json", headers={"Content-Type": "application/json"})
            assert r.status_code == 401, (path, r.status_code, r.text)


def test_bodies_past_the_endpoints_limit_get_413_and_change_nothing(agents) -> None:  # type: ignore[no-untyped-def]
    agent = agents("limits")
    before = agent.get("/api/v1/email")
    auth = f"Authorization: Bearer {agent.token}\r\n"
    for chunked in (False, True):
        head = _head("PUT", "/api/v1/email", auth, None if chunked else 1 * MB, chunked)
        status, headers, body, _ = request_with_endless_body(agent, head, 1 * MB, chunked=chunked, chunk=16384)
        detail = json.loads(body)["detail"]
        assert status == 413 and "larger than this endpoint takes" in detail, (status, body)
        assert headers.get("connection") == "close"
    # 100 recipients of 1 MB each (issue 14): refused whole, never stored nor published.
    r = agent.request("PUT", "/api/v1/email", json={"host": "127.0.0.1", "sender": "pa@example.com",
                                                   "recipients": ["a" * MB + "@example.com"] * 100})
    assert r.status_code == 413, r.text
    assert agent.get("/api/v1/email") == before
    events = agent.request("GET", "/api/v1/events", params={"after": 0, "follow": "false"}).text
    assert "email_changed" not in events
    # A body within the limit still works (the test can fail).
    r = agent.request("PUT", "/api/v1/email", json={"host": "127.0.0.1", "sender": "pa@example.com",
                                                   "recipients": ["ops@example.com"]})
    assert r.status_code == 200, r.text


def test_a_lying_content_length_is_a_clear_400(agents) -> None:  # type: ignore[no-untyped-def]
    agent = agents("lying")
    with tls_socket(agent) as sock:
        sock.sendall(_head("PUT", "/api/v1/email", f"Authorization: Bearer {agent.token}\r\n").replace(
            "Content-Type", "Content-Length: 12abc\r\nContent-Type").encode())
        try:
            status, _, body = read_response(sock)
        except ConnectionError:
            status, body = 400, b"refused by the HTTP parser"
    assert status == 400, body


def _create_token(agent: RunningAgent, name: str, *flags: str) -> str:
    proc = run_cli("token", "create", str(agent.data_dir), name, *flags)
    token = proc.stdout.strip()
    assert proc.stdout.count("\n") == 1 and len(token) >= 40, proc.stdout  # the token alone, once
    return token


def test_named_tokens_full_and_read_only_and_revoked_while_serving(agents) -> None:  # type: ignore[no-untyped-def]
    agent = agents("tokens")
    reader = _create_token(agent, "monitoring", "--read-only")
    writer = _create_token(agent, "automation")
    listed = run_cli("token", "list", str(agent.data_dir), "--json").stdout
    assert {t["name"]: t["read_only"] for t in json.loads(listed)} == {"monitoring": True, "automation": False}
    assert reader not in listed and writer not in listed
    assert reader not in (agent.data_dir / "tokens.json").read_text()  # only hashes are kept
    with agent.client(token=reader) as c:
        assert c.get("/api/v1/failover/health").status_code == 200
        assert c.get("/api/v1/failover/settings").status_code == 200
        for method, path, body in (("PUT", "/api/v1/failover/settings", {"pull_interval_s": 300}),
                                   ("POST", "/api/v1/failover/sync", None),
                                   ("POST", "/api/v1/security/key/generate", None),
                                   ("PUT", "/api/v1/email", {"host": "127.0.0.1"}),
                                   ("GET", "/api/v1/tokens", None), ("POST", "/api/v1/tokens", {"name": "x"})):
            r = c.request(method, path, json=body)
            detail = r.json()["detail"]
            assert r.status_code == 403 and ("read-only" in detail or "full access" in detail), \
                (method, path, r.status_code, r.text)
    with agent.client(token=writer) as c:
        assert c.put("/api/v1/failover/settings", json={"pull_interval_s": 300}).status_code == 200
        # Tokens through the API too: create (shown once), list, revoke.
        r = c.post("/api/v1/tokens", json={"name": "scripted", "read_only": True})
        assert r.status_code == 201, r.text
        scripted = r.json()["token"]
        assert {t["name"] for t in c.get("/api/v1/tokens").json()} == {"monitoring", "automation", "scripted"}
        assert c.post("/api/v1/tokens", json={"name": "scripted"}).status_code == 409
        assert c.post("/api/v1/tokens", json={"name": "bad name\r\n"}).status_code == 422
    with agent.client(token=scripted) as c:
        assert c.get("/api/v1/failover/health").status_code == 200
    with agent.client() as c:
        assert c.delete("/api/v1/tokens/scripted").status_code == 200
        assert c.delete("/api/v1/tokens/scripted").status_code == 404
    with agent.client(token=scripted) as c:
        assert c.get("/api/v1/failover/health").status_code == 401
    # Revoked from the command line while the agent serves: refused from the next request on.
    run_cli("token", "revoke", str(agent.data_dir), "monitoring")
    with agent.client(token=reader) as c:
        assert c.get("/api/v1/failover/health").status_code == 401
    proc = run_cli("token", "revoke", str(agent.data_dir), "monitoring", check=False)
    assert proc.returncode == 2 and "no token named" in proc.stderr and "Traceback" not in proc.stderr
    # The admin token of identity.json stays the full-power token.
    assert agent.request("PUT", "/api/v1/failover/settings", json={"pull_interval_s": 600}).status_code == 200


# Headers, queries and bodies that gave 500s or tracebacks (issue 14), and their neighbours.
ODD_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/v1/events", {"headers": {"Last-Event-ID": "²"}, "params": {"follow": "false"}}),
    ("GET", "/api/v1/events", {"headers": {"Last-Event-ID": "9" * 5000}, "params": {"follow": "false"}}),
    ("GET", "/api/v1/events", {"headers": {"Last-Event-ID": "-1"}, "params": {"follow": "false"}}),
    ("GET", "/api/v1/events", {"headers": {"Last-Event-ID": "٣"}, "params": {"follow": "false"}}),
    ("GET", "/api/v1/events", {"headers": {"Last-Event-ID": "99999999999999999999"}, "params": {"follow": "false"}}),
    ("GET", "/api/v1/events", {"params": {"after": "99999999999999999999999", "follow": "false"}}),
    ("GET", "/api/v1/events", {"params": {"after": "-5", "follow": "false"}}),
    ("GET", "/api/v1/events", {"params": {"after": "²", "follow": "false"}}),
    ("GET", "/api/v1/events", {"params": {"after": "1e9", "follow": "maybe"}}),
    ("GET", "/api/v1/failover/health", {"headers": {"Authorization": "Bearer " + "x" * 6000}}),
    ("GET", "/api/v1/failover/health", {"headers": {"Authorization": "Basic Zm9vOmJhcg=="}}),
    ("GET", "/api/v1/failover/health", {"headers": {"Authorization": "Bearer \u00e9t\u00e9"}}),
    ("GET", "/api/v1/failover/health", {"headers": {"Content-Type": "text/\u00ff"}}),
    ("PUT", "/api/v1/failover/settings", {"content": b'{"pull_interval_s": 1e999}'}),
    ("PUT", "/api/v1/failover/settings", {"content": b'{"pull_interval_s": 99999999999999999999999}'}),
    ("PUT", "/api/v1/failover/settings", {"content": b"[" * 5000 + b"]" * 5000}),
    ("PUT", "/api/v1/email", {"content": b"\xff\xfe\x00"}),
    ("PUT", "/api/v1/email", {"json": {"recipients": ["postmaster,evil@x.com"]}}),
    ("PUT", "/api/v1/email", {"json": {"recipients": "ops@example.com"}}),
    ("PUT", "/api/v1/security/key", {"json": {"key": "\u0000" * 40}}),
    ("PUT", "/api/v1/security/key", {"json": {"key": "a" * 64}}),
    ("POST", "/api/v1/peer/hello", {"content": b'{"nonce_p": 5}'}),
    ("POST", "/api/v1/peer/hello", {"json": {"nonce_p": "a" * 64, "primary_name": "x\r\nBcc: e@x.com",
                                             "version": "1", "schema_version": 1, "primary_cert_pem": "junk",
                                             "reverse": {"host": "127.0.0.1", "port": 1}, "epoch": 0}}),
    ("POST", "/api/v1/peer/confirm", {"json": {"nonce_b": "b" * 64, "proof": "c" * 64, "epoch": 10**30}}),
    ("GET", "/api/v1/peer/changes", {"params": {"since": "99999999999999999999999", "store": "x"}}),
    ("DELETE", "/api/v1/tokens/" + "x" * 3000, {}),
    ("GET", "/api/v1/%ff%00", {}),
]


def _raw(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def test_odd_headers_queries_and_bodies_get_no_5xx_and_leave_no_traceback(agents) -> None:  # type: ignore[no-untyped-def]
    agent = agents("odd")
    failures = []
    with agent.client(timeout=20) as c:
        for method, path, kw in ODD_REQUESTS:
            for token in (agent.token, None):
                kw2 = dict(kw)
                # As raw bytes: latin-1 where it can be (how servers decode headers), else UTF-8.
                headers = {k: _raw(v) for k, v in kw2.pop("headers", {}).items()}
                if token is None:
                    c.headers.pop("Authorization", None)
                else:
                    c.headers["Authorization"] = f"Bearer {token}"
                try:
                    r = c.request(method, path, headers=headers, **kw2)
                except httpx.LocalProtocolError:
                    continue  # our own client refused to send it
                if r.status_code >= 500 or "Traceback" in r.text:
                    failures.append((method, path, str(kw)[:80], token is not None, r.status_code, r.text[:200]))
                elif r.status_code >= 400 and not r.json().get("detail"):
                    failures.append((method, path, "no detail", r.text[:200]))
    assert not failures, failures
    time.sleep(0.5)
    assert not log_problems(agent), log_problems(agent)[:5]
    assert agent.health()["name"] == "odd"
