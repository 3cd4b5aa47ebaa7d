"""The agent's HTTPS API over pinned TLS: auth, every endpoint, and bad input."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from tests.harness import RunningAgent, SmtpSink, pinned_context

ENDPOINTS = [
    ("GET", "/api/v1/failover/health"),
    ("GET", "/api/v1/failover/settings"),
    ("PUT", "/api/v1/failover/settings"),
    ("GET", "/api/v1/security/key"),
    ("PUT", "/api/v1/security/key"),
    ("POST", "/api/v1/security/key/generate"),
    ("GET", "/api/v1/email"),
    ("PUT", "/api/v1/email"),
    ("POST", "/api/v1/email/test"),
    ("GET", "/api/v1/site/digest"),
    ("GET", "/api/v1/events"),
    ("POST", "/api/v1/failover/relationship"),
    ("GET", "/api/v1/failover/relationship"),
    ("DELETE", "/api/v1/failover/relationship"),
    ("POST", "/api/v1/failover/sync"),
    ("POST", "/api/v1/failover/role"),
]


@pytest.fixture
def alpha(agents) -> RunningAgent:  # type: ignore[no-untyped-def]
    agent: RunningAgent = agents("alpha")
    return agent


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_every_endpoint_needs_the_token(alpha: RunningAgent, token: str | None) -> None:
    key_before = alpha.get("/api/v1/security/key")
    with httpx.Client(base_url=alpha.url, verify=pinned_context(alpha.cert_pem), timeout=10) as c:
        for method, path in ENDPOINTS:
            headers = {} if token is None else {"Authorization": f"Bearer {token}".strip()}
            r = c.request(method, path, headers=headers, json={"key": "x" * 64})
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert "api_token" in r.json()["detail"]
    assert alpha.get("/api/v1/security/key") == key_before


def test_health_fields(alpha: RunningAgent) -> None:
    h = alpha.health()
    assert h["name"] == "alpha" and h["version"]
    assert h["role"] == "standalone" and h["relationship_established"] is False
    assert h["sync_enabled"] is True
    assert h["last_sync_at"] is None and h["last_sync_status"] == "never"
    assert h["primary_reachable"] is None and h["failover_in_s"] is None
    assert isinstance(h["epoch"], int)


def test_key_fingerprint_set_and_generate(alpha: RunningAgent) -> None:
    first = alpha.get("/api/v1/security/key")["fingerprint"]
    r = alpha.request("PUT", "/api/v1/security/key", json={"key": "k3y-" * 10})
    assert r.status_code == 200 and r.json()["fingerprint"] != first
    assert alpha.get("/api/v1/security/key")["fingerprint"] == r.json()["fingerprint"]
    r = alpha.request("POST", "/api/v1/security/key/generate")
    generated = r.json()
    assert len(generated["key"]) == 64
    assert alpha.get("/api/v1/security/key")["fingerprint"] == generated["fingerprint"]
    assert generated["key"] not in json.dumps(alpha.get("/api/v1/security/key"))
    assert generated["key"] not in alpha.output()
    r = alpha.request("PUT", "/api/v1/security/key", json={"key": "short"})
    assert r.status_code == 422 and "key" in r.json()["detail"]
    assert alpha.get("/api/v1/security/key")["fingerprint"] == generated["fingerprint"]


def test_email_password_is_write_only_and_test_mail_arrives(alpha: RunningAgent, smtp_sink: SmtpSink) -> None:
    cfg = smtp_sink.config() | {"password": "hunter2-secret"}
    r = alpha.request("PUT", "/api/v1/email", json=cfg)
    assert r.status_code == 200, r.text
    got = alpha.get("/api/v1/email")
    assert "password" not in got and got["password_set"] is True
    assert got["recipients"] == ["admin@example.com"] and got["port"] == smtp_sink.port
    # Leaving the password out keeps it.
    r = alpha.request("PUT", "/api/v1/email", json={k: v for k, v in cfg.items() if k != "password"})
    assert r.json()["password_set"] is True
    r = alpha.request("PUT", "/api/v1/email", json=smtp_sink.config())
    assert r.json()["password_set"] is False
    r = alpha.request("POST", "/api/v1/email/test")
    result = r.json()
    assert result["ok"] is True and result["code"] == 250, result
    mail = smtp_sink.wait_for(lambda m: "test message" in m.subject)
    assert mail.recipients == ["admin@example.com"] and "alpha" in mail.body
    assert "hunter2-secret" not in alpha.output()


def test_email_test_reports_an_unreachable_server(alpha: RunningAgent) -> None:
    r = alpha.request("POST", "/api/v1/email/test")
    assert r.status_code == 200 and r.json()["ok"] is False and "not configured" in r.json()["message"]
    cfg = {"host": "127.0.0.1", "port": 1, "sender": "a@example.com", "recipients": ["b@example.com"]}
    assert alpha.request("PUT", "/api/v1/email", json=cfg).status_code == 200
    result = alpha.request("POST", "/api/v1/email/test").json()
    assert result["ok"] is False and "127.0.0.1:1" in result["message"]


@pytest.mark.parametrize(("method", "path", "body", "needle"), [
    ("PUT", "/api/v1/email", {"port": 70000}, "port"),
    ("PUT", "/api/v1/email", {"recipients": ["not-an-address"]}, "recipients"),
    ("PUT", "/api/v1/email", {"security": "ssl3"}, "security"),
    ("PUT", "/api/v1/email", {"host": "bad host!"}, "host"),
    ("PUT", "/api/v1/email", {"colour": "red"}, "not a known field"),
    ("PUT", "/api/v1/email", [1, 2], "Invalid request"),
    ("PUT", "/api/v1/failover/settings", {"pull_interval_s": 0}, "pull_interval_s"),
    ("PUT", "/api/v1/failover/settings", {"primary_timeout_s": "soon"}, "primary_timeout_s"),
    ("PUT", "/api/v1/failover/settings", {"shared_address": {"address": "300.1.1.1"}}, "address"),
    ("PUT", "/api/v1/security/key", {"key": 5}, "key"),
    ("GET", "/api/v1/events?after=-3", None, "after"),
])
def test_bad_requests_get_a_sentence_and_change_nothing(alpha: RunningAgent, method: str, path: str,
                                                        body: Any, needle: str) -> None:
    before = (alpha.get("/api/v1/email"), alpha.get("/api/v1/failover/settings"), alpha.get("/api/v1/security/key"))
    r = alpha.request(method, path, json=body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert needle in r.json()["detail"], r.json()
    assert (alpha.get("/api/v1/email"), alpha.get("/api/v1/failover/settings"),
            alpha.get("/api/v1/security/key")) == before


def test_malformed_json_and_unknown_paths(alpha: RunningAgent) -> None:
    r = alpha.request("PUT", "/api/v1/email", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]
    r = alpha.request("GET", "/api/v1/nothing-here")
    assert r.status_code == 404 and "README" in r.json()["detail"]
    r = alpha.request("DELETE", "/api/v1/site/digest")
    assert r.status_code == 405


def test_settings_round_trip_and_partial_update(alpha: RunningAgent) -> None:
    r = alpha.request("PUT", "/api/v1/failover/settings",
                      json={"pull_interval_s": 30, "shared_address": {"driver": "loopback", "address": "127.0.0.77",
                                                                      "port": 8443}})
    assert r.status_code == 200, r.text
    r = alpha.request("PUT", "/api/v1/failover/settings", json={"auto_failover": True})
    s = r.json()
    assert s["pull_interval_s"] == 30 and s["auto_failover"] is True
    assert s["shared_address"]["address"] == "127.0.0.77"
    assert alpha.get("/api/v1/failover/settings") == s


def test_digest_tracks_site_data(alpha: RunningAgent, agents) -> None:  # type: ignore[no-untyped-def]
    empty = alpha.digest()
    assert empty["sessions"] == 0 and empty["recording_bytes"] == 0
    alpha.seed(10, 2048)
    d = alpha.digest()
    assert d["sessions"] == 10 and d["recordings"] == 10 and d["recording_bytes"] == 20480
    assert d["sha256"] != empty["sha256"]
    other = agents("beta")
    assert other.digest()["sha256"] == empty["sha256"]


def _read_sse(agent: RunningAgent, params: dict[str, Any], headers: dict[str, str] | None = None,
              want: int = 1, timeout: float = 15) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    with agent.client(timeout=timeout) as c, c.stream("GET", "/api/v1/events", params=params,
                                                     headers=headers or {}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        current: dict[str, Any] = {}
        for line in r.iter_lines():
            if line.startswith("id: "):
                current["id"] = int(line[4:])
            elif line.startswith("event: "):
                current["event"] = line[7:]
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
            elif line == "" and "id" in current:
                events.append(current)
                current = {}
                if len(events) >= want:
                    break
    return events


def test_events_history_live_resume_and_restart(alpha: RunningAgent) -> None:
    history = _read_sse(alpha, {"after": 0, "follow": "false"}, want=10_000)
    assert history[0]["event"] == "agent_started"
    ids = [e["id"] for e in history]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(e["data"]["ts"] and e["data"]["type"] == e["event"] for e in history)
    last = ids[-1]

    # Live: a change made while a client listens reaches it.
    def change() -> None:
        time.sleep(0.5)
        alpha.request("PUT", "/api/v1/failover/settings", json={"pull_interval_s": 42})

    t = threading.Thread(target=change)
    t.start()
    live = _read_sse(alpha, {}, want=1)
    t.join()
    assert live[0]["event"] == "settings_changed" and live[0]["id"] > last
    assert live[0]["data"]["data"]["settings"]["pull_interval_s"] == 42

    # Resume with Last-Event-ID after a restart: nothing missed, nothing repeated.
    alpha.restart()
    resumed = _read_sse(alpha, {}, headers={"Last-Event-ID": str(last)}, want=2)
    assert resumed[0]["id"] == live[0]["id"] and resumed[0]["event"] == "settings_changed"
    assert resumed[1]["event"] == "agent_started"
