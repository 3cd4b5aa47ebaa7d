"""BeyondTrust-compatible `/check_health` and command API against a real pair, in each role (issue 16)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Callable

import httpx
import pytest

from tests.harness import RunningAgent, SmtpSink, pinned_context, wait_until
from tests.integration.failover.helpers import make_pair, roles
from tests.integration.sync.pair import sync_now


def check_health(agent: RunningAgent) -> httpx.Response:
    """As a load balancer asks: no token at all."""
    with httpx.Client(base_url=agent.url, verify=pinned_context(agent.cert_pem), timeout=10) as c:
        return c.get("/check_health")


def command(agent: RunningAgent, method: str = "GET", **params: str) -> tuple[int, ET.Element]:
    with agent.client(timeout=60) as c:
        if method == "GET":
            r = c.get("/api/command", params=params)
        else:
            r = c.post("/api/command", data=params)  # application/x-www-form-urlencoded, as BeyondTrust takes it
    assert r.headers["content-type"].startswith("application/xml"), r.text
    return r.status_code, ET.fromstring(r.content)


def health_xml(agent: RunningAgent) -> ET.Element:
    status, root = command(agent, action="check_health")
    assert status == 200 and root.tag == "check_health"
    return root


def test_standalone_is_the_active_site(agents: Callable[..., RunningAgent]) -> None:
    solo = agents("solo")
    r = check_health(solo)
    assert r.status_code == 200 and "solo" in r.text and "{" not in r.text
    root = health_xml(solo)
    appliance = root.find("appliance")
    assert appliance is not None and appliance.text == "solo" and len(appliance.get("id", "")) == 36
    assert root.findtext("version") == solo.health()["version"]
    assert root.findtext("success") == "1" and root.find("error_message") is None
    assert root.findtext("failover_role") == "none"
    # As BeyondTrust: no shared IPs and no sync when failover is not configured.
    assert root.find("enabled_shared_ips") is None and root.find("last_data_sync_time") is None


@pytest.mark.timeout(180)
def test_pair_in_each_role_and_set_failover_role(agents: Callable[..., RunningAgent], smtp_sink: SmtpSink) -> None:
    pair = make_pair(agents, smtp_sink, primary_timeout_s=30)
    alpha, beta = pair.primary, pair.backup
    alpha.seed(10)
    report = sync_now(beta)
    assert report["status"] == "ok"

    assert check_health(alpha).status_code == 200
    r = check_health(beta)
    assert r.status_code == 500 and "backup" in r.text and "beta" in r.text

    primary = health_xml(alpha)
    assert primary.findtext("success") == "1" and primary.findtext("failover_role") == "primary"
    assert [ip.text for ip in primary.iterfind("enabled_shared_ips/ip")] == [pair.shared["address"]]
    backup = health_xml(beta)
    assert backup.findtext("failover_role") == "backup"
    assert backup.findtext("success") == "0" and "backup" in (backup.findtext("error_message") or "")
    synced = backup.find("last_data_sync_time")
    assert synced is not None and synced.text is not None
    when = dt.datetime.fromisoformat(synced.text)
    assert int(synced.get("ts", "0")) == int(when.timestamp())
    assert abs(when.timestamp() - dt.datetime.now(dt.UTC).timestamp()) < 300
    assert backup.findtext("last_data_sync_status") == "ok"
    assert appliance_ids(alpha) != appliance_ids(beta)

    # set_failover_role by GET on the backup: a planned swap with a last sync first, as our role endpoint does it.
    status, answer = command(beta, action="set_failover_role", role="primary", data_sync_first="1")
    assert status == 200 and answer.tag == "success", ET.tostring(answer)
    assert "beta is the primary" in (answer.text or "")
    pair.wait_site("beta", timeout=15)
    assert roles(alpha, beta) == ["backup", "primary"]
    assert check_health(beta).status_code == 200 and check_health(alpha).status_code == 500

    # ... and back by POST on the new primary (it steps down, alpha takes over).
    wait_until(lambda: alpha.health()["primary_reachable"] is True, timeout=15, what="alpha watching beta")
    status, answer = command(beta, "POST", action="set_failover_role", role="backup", data_sync_first="0",
                             force="0")
    assert status == 200 and answer.tag == "success", ET.tostring(answer)
    pair.wait_site("alpha", timeout=15)
    assert roles(alpha, beta) == ["primary", "backup"]
    assert check_health(alpha).status_code == 200 and check_health(beta).status_code == 500

    status, answer = command(alpha, action="set_failover_role", role="primary")
    assert status == 200 and answer.text == "alpha already is the primary."


def appliance_ids(agent: RunningAgent) -> str:
    appliance = health_xml(agent).find("appliance")
    assert appliance is not None
    return appliance.get("id", "")


@pytest.mark.parametrize(("params", "status", "words"), [
    ({}, 400, "action parameter is missing"),
    ({"action": "get_logged_in_reps"}, 400, "Unknown action"),
    ({"action": "set_failover_role"}, 400, "role parameter is missing"),
    ({"action": "set_failover_role", "role": "leader"}, 400, "primary or backup"),
    ({"action": "set_failover_role", "role": "primary", "force": "yes"}, 400, "force must be 0 or 1"),
    ({"action": "set_failover_role", "role": "primary"}, 409, "no failover relationship"),
])
def test_bad_commands_answer_an_error_sentence(agents: Callable[..., RunningAgent], params: dict[str, str],
                                               status: int, words: str) -> None:
    solo = agents("solo")
    got, root = command(solo, **params)
    assert got == status and root.tag == "error" and words in (root.text or ""), ET.tostring(root)
    assert (root.text or "").endswith(".") and not (root.text or "").endswith("..")


def test_command_api_needs_a_token_and_refuses_other_bodies(agents: Callable[..., RunningAgent]) -> None:
    solo = agents("solo")
    with httpx.Client(base_url=solo.url, verify=pinned_context(solo.cert_pem), timeout=10) as c:
        assert c.get("/api/command", params={"action": "check_health"}).status_code == 401
        assert c.post("/api/command", data={"action": "set_failover_role", "role": "primary"}).status_code == 401
    with solo.client() as c:
        r = c.post("/api/command", json={"action": "check_health"})
        assert r.status_code == 415 and b"<error>" in r.content
        r = c.post("/api/command", content=b"action=check_health&x=" + b"a" * 10_000,
                   headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 413
