"""Two real agents whose takeover method is a DNS swing (and a NAT hook), a real BIND 9 and a real SMTP server.

No shared address at all: the DNS swing alone is how the site's clients follow the primary."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.harness import RunningAgent, SmtpSink, wait_until
from tests.integration.failover.helpers import events, of_type
from tests.integration.sync.pair import KEY, configure, establish, sync_now
from tests.integration.takeover_methods.dns_server import (
    FIRST_ADDRESS,
    KEY_NAME,
    OTHER_SECRET,
    SECRET,
    ZONE,
    BindServer,
)

SITE = f"site.{ZONE}"
ADDRESSES = {"alpha": "127.0.0.31", "beta": "127.0.0.32"}


def dns_swing(server: BindServer, name: str, secret: str | None = SECRET) -> dict[str, Any]:
    values: dict[str, Any] = {"server": "127.0.0.1", "port": server.port, "zone": ZONE, "record": "site", "ttl": 20,
                              "tsig_key_name": KEY_NAME, "address": ADDRESSES[name], "timeout_s": 3}
    if secret is not None:
        values["tsig_secret"] = secret
    return values


def nat_hook(tmp_path: Path, name: str) -> dict[str, Any]:
    """A real hook that appends what it was told (one JSON line per run) to a file of its appliance."""
    hook = tmp_path / f"nat-{name}.sh"
    hook.write_text(f"""#!/bin/sh
printf '{{"event":"%s","new":"%s","address":"%s","old":"%s"}}\\n' "$PA_EVENT" "$PA_NEW_PRIMARY_NAME" \
  "$PA_NEW_PRIMARY_ADDRESS" "$PA_OLD_PRIMARY_NAME" >> {tmp_path}/nat-{name}.log
echo "NAT rule points at $PA_NEW_PRIMARY_NAME"
""")
    hook.chmod(0o755)
    return {"command": [str(hook)], "address": ADDRESSES[name], "timeout_s": 5}


def nat_runs(tmp_path: Path, name: str) -> list[dict[str, str]]:
    log = tmp_path / f"nat-{name}.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def make_pair(agents: Callable[..., RunningAgent], smtp: SmtpSink, server: BindServer, tmp_path: Path,
              secret: str = SECRET) -> tuple[RunningAgent, RunningAgent]:
    alpha, beta = agents("alpha", key_hex=KEY), agents("beta", key_hex=KEY)
    for agent in (alpha, beta):
        configure(agent, primary_timeout_s=4, probe_interval_s=0.5, auto_failover=True, first_sync_delay_s=3600,
                  dns_swing=dns_swing(server, agent.name, secret), nat_swing=nat_hook(tmp_path, agent.name))
        r = agent.request("PUT", "/api/v1/email", json=smtp.config())
        assert r.status_code == 200, r.text
    establish(alpha, beta)
    assert sync_now(beta)["status"] == "ok"  # a complete copy: else no automatic takeover (issue 13)
    wait_until(lambda: beta.health()["primary_reachable"] is True, timeout=10, what="the backup to see its primary")
    return alpha, beta


@pytest.mark.timeout(90)
def test_kill_9_of_the_primary_swings_the_dns_name_to_the_backup(agents: Callable[..., RunningAgent],
                                                                  smtp_sink: SmtpSink, dns_server: BindServer,
                                                                  tmp_path: Path) -> None:
    alpha, beta = make_pair(agents, smtp_sink, dns_server, tmp_path)

    # The secret is write-only: never in GET, events; a PUT without it keeps it.
    settings = beta.get("/api/v1/failover/settings")
    assert settings["dns_swing"]["tsig_secret_set"] is True and "tsig_secret" not in settings["dns_swing"]
    changed = {**settings["dns_swing"], "ttl": 15}  # as a GET gave it, with tsig_secret_set and no secret
    r = beta.request("PUT", "/api/v1/failover/settings", json={"dns_swing": changed})
    assert r.status_code == 200 and r.json()["dns_swing"]["tsig_secret_set"] is True, r.text
    checks = {c["method"]: c for c in beta.request("POST", "/api/v1/failover/methods/check").json()}
    assert checks["dns_swing"]["ready"] is True and checks["nat_swing"]["ready"] is True, checks
    assert checks["shared_address"]["configured"] is False
    before = events(beta)[-1]["id"]
    assert dns_server.query(SITE) == [FIRST_ADDRESS]

    alpha.kill()
    wait_until(lambda: beta.health()["role"] == "primary", timeout=15, what="beta to take over")
    # The role flips first (so the site answers "primary" at once), the swing comes after it: the takeover event
    # is published when every step is done, so that is the moment the name must point at beta.
    wait_until(lambda: of_type(events(beta, after=before), "takeover"), timeout=15, what="the takeover's steps")
    assert dns_server.query(SITE) == [ADDRESSES["beta"]]
    assert dns_server.ttl(SITE) == 15  # the TTL of the second PUT: it kept the secret and the change

    evs = events(beta, after=before)
    takeover = of_type(evs, "takeover")[0]["data"]
    assert [(s["step"], s["ok"]) for s in takeover["steps"]] == [("role", True), ("dns_swing", True),
                                                                   ("nat_swing", True)]
    steps = {e["data"]["step"]: e["data"] for e in of_type(evs, "takeover_step")}
    assert steps["dns_swing"]["outcome"] == "done" and steps["dns_swing"]["event"] == "takeover"
    assert steps["nat_swing"]["exit_status"] == 0 and steps["nat_swing"]["output"] == "NAT rule points at beta"
    assert nat_runs(tmp_path, "beta") == [{"event": "takeover", "new": "beta", "address": ADDRESSES["beta"],
                                           "old": "alpha"}]
    mail = smtp_sink.wait_for(lambda m: "took over" in m.subject, timeout=10)
    assert "dns_swing: done" in mail.body and ADDRESSES["beta"] in mail.body

    everything = json.dumps(events(beta)) + json.dumps(beta.get("/api/v1/failover/settings")) + beta.output()
    assert SECRET not in everything


@pytest.mark.timeout(90)
def test_planned_swap_and_back_swings_the_name_and_runs_the_hooks_in_reverse(agents: Callable[..., RunningAgent],
                                                                              smtp_sink: SmtpSink,
                                                                              dns_server: BindServer,
                                                                              tmp_path: Path) -> None:
    alpha, beta = make_pair(agents, smtp_sink, dns_server, tmp_path)
    r = beta.request("POST", "/api/v1/failover/role", json={"role": "primary"})
    assert r.status_code == 200, r.text
    assert dns_server.query(SITE) == [ADDRESSES["beta"]]
    assert nat_runs(tmp_path, "alpha") == [{"event": "demotion", "new": "beta", "address": "", "old": "alpha"}]
    assert nat_runs(tmp_path, "beta")[-1]["event"] == "takeover"

    # alpha holds no verified copy of beta's store yet (issue 13): the swap back pulls a last sync first.
    r = alpha.request("POST", "/api/v1/failover/role", json={"role": "primary", "sync_first": True})
    assert r.status_code == 200, r.text
    assert dns_server.query(SITE) == [ADDRESSES["alpha"]]
    assert [run["event"] for run in nat_runs(tmp_path, "beta")] == ["takeover", "demotion"]
    assert [run["event"] for run in nat_runs(tmp_path, "alpha")] == ["demotion", "takeover"]


@pytest.mark.timeout(90)
def test_a_key_the_server_refuses_blocks_automatic_failover_with_the_reason(agents: Callable[..., RunningAgent],
                                                                            smtp_sink: SmtpSink,
                                                                            dns_server: BindServer,
                                                                            tmp_path: Path) -> None:
    alpha, beta = make_pair(agents, smtp_sink, dns_server, tmp_path, secret=OTHER_SECRET)
    checks = {c["method"]: c for c in beta.request("POST", "/api/v1/failover/methods/check").json()}
    assert checks["dns_swing"]["ready"] is False and "BADSIG" in checks["dns_swing"]["detail"]
    alpha.kill()
    wait_until(lambda: beta.health()["awaiting_manual_failover"] is True, timeout=15,
               what="the backup to wait for a manual failover")
    assert beta.health()["role"] == "backup"
    mail = smtp_sink.wait_for(lambda m: "manual failover needed" in m.subject, timeout=10)
    assert "BADSIG" in mail.body
    # A forced takeover goes ahead, and reports the refused update as a failed step in words.
    r = beta.request("POST", "/api/v1/failover/role", json={"role": "primary", "force": True})
    assert r.status_code == 200, r.text
    assert "dns_swing: The DNS server" in r.json()["detail"] and "BADSIG" in r.json()["detail"]
    assert dns_server.query(SITE) == [FIRST_ADDRESS]
