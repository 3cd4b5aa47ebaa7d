"""Manual failover through POST /api/v1/failover/role, and the old primary returning after a failover."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.harness import RunningAgent, SmtpSink, run_cli, wait_until
from tests.integration.failover.helpers import PrimaryWatch, events, make_pair, of_type, roles


def set_role(agent: RunningAgent, role: str, **kw: bool) -> tuple[int, dict[str, object]]:
    r = agent.request("POST", "/api/v1/failover/role", json={"role": role, **kw})
    return r.status_code, r.json()


def relationship_role(agent: RunningAgent) -> str:
    role: str = agent.get("/api/v1/failover/relationship")["role"]
    return role


@pytest.mark.timeout(120)
def test_planned_swap_with_sync_first_and_back(agents: Callable[..., RunningAgent], smtp_sink: SmtpSink) -> None:
    pair = make_pair(agents, smtp_sink, primary_timeout_s=30)
    alpha, beta = pair.primary, pair.backup
    alpha.seed(40)
    assert alpha.digest()["sessions"] == 40 and beta.digest()["sessions"] == 0
    with PrimaryWatch(alpha, beta) as watch:
        status, result = set_role(beta, "primary", sync_first=True)
        assert status == 200, result
        assert result["role"] == "primary" and "last sync" in str(result["detail"])
        pair.wait_site("beta", timeout=10)
    assert watch.samples >= 1 and watch.both_primary == []
    assert beta.digest()["sha256"] == alpha.digest()["sha256"]  # the last sync completed before the swap
    assert roles(alpha, beta) == ["backup", "primary"]
    assert [relationship_role(alpha), relationship_role(beta)] == ["backup", "primary"]
    assert beta.health()["epoch"] > alpha.health()["epoch"]
    assert of_type(events(beta), "takeover")[-1]["data"]["planned"] is True

    # The other way round, asked of the (new) primary: it steps down and asks its peer to take over.
    wait_until(lambda: alpha.health()["primary_reachable"] is True, timeout=10, what="alpha watching beta")
    beta.seed(5)
    with PrimaryWatch(alpha, beta) as watch:
        status, result = set_role(beta, "backup", sync_first=True)
        assert status == 200, result
        assert result["role"] == "backup"
        pair.wait_site("alpha", timeout=10)
    assert watch.both_primary == []
    assert roles(alpha, beta) == ["primary", "backup"]
    assert [relationship_role(alpha), relationship_role(beta)] == ["primary", "backup"]
    assert alpha.digest()["sessions"] == 45 and alpha.digest()["sha256"] == beta.digest()["sha256"]
    assert set_role(alpha, "primary")[1]["detail"] == "alpha already is the primary."


@pytest.mark.timeout(120)
def test_forced_takeover_then_the_old_primary_returns_and_demotes_itself(
        agents: Callable[..., RunningAgent], smtp_sink: SmtpSink, tmp_path: Path) -> None:
    pair = make_pair(agents, smtp_sink, primary_timeout_s=60, auto_failover=False)
    alpha, beta = pair.primary, pair.backup
    alpha.kill()
    status, result = set_role(beta, "primary")
    assert status == 409 and "force" in str(result["detail"]), result
    assert roles(beta) == ["backup"]
    status, result = set_role(beta, "primary", force=True)
    assert status == 200 and result["role"] == "primary", result
    assert "The site now holds this appliance's copy: 0 sessions" in result["detail"], result
    pair.wait_site("beta", timeout=5)

    # While it was cut off, the old primary took writes: they must be kept aside, not lost.
    run_cli("seed", str(alpha.data_dir), "--sessions", "7", "--recording-bytes", "0")
    with PrimaryWatch(alpha, beta) as watch:
        alpha.start()
        wait_until(lambda: alpha.health()["role"] == "backup", timeout=10, what="alpha to demote itself")
        wait_until(lambda: alpha.health()["primary_reachable"] is True, timeout=10, what="alpha watching beta")
    assert watch.samples > 3 and watch.both_primary == [], "two primaries were seen"
    assert (pair.site() or {}).get("name") == "beta"
    assert alpha.health()["serving_shared_address"] is False
    assert alpha.health()["epoch"] >= beta.health()["epoch"]  # it adopted the newer epoch
    evs = events(alpha)
    demoted = of_type(evs, "demoted")[-1]["data"]
    kept = of_type(evs, "split_brain_data_kept")[-1]["data"]["path"]
    assert demoted["kept"] == kept and demoted["peer"] == "beta"
    with sqlite3.connect(kept) as conn:
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 7
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "local" not in tables  # never the relationship (its peer token): only what diverged
        assert int(dict(conn.execute("SELECT key, value FROM meta"))["since_seq"]) > 0
    assert Path(kept).stat().st_mode & 0o077 == 0
    mail = smtp_sink.wait_for(lambda m: "demoted itself" in m.subject, timeout=10)
    assert kept in mail.body


@pytest.mark.timeout(90)
def test_a_primary_steps_down_only_with_force_while_its_peer_is_unreachable(
        agents: Callable[..., RunningAgent], smtp_sink: SmtpSink) -> None:
    pair = make_pair(agents, smtp_sink, primary_timeout_s=60)
    alpha, beta = pair.primary, pair.backup
    beta.kill()
    status, result = set_role(alpha, "backup")
    assert status == 409 and "force" in str(result["detail"]), result
    assert roles(alpha) == ["primary"] and (pair.site() or {}).get("name") == "alpha"
    status, result = set_role(alpha, "backup", force=True)
    assert status == 200 and result["role"] == "backup", result
    assert pair.site() is None and alpha.health()["serving_shared_address"] is False


def test_role_request_without_relationship_or_with_bad_body(agents: Callable[..., RunningAgent]) -> None:
    alone = agents("solo")
    status, result = set_role(alone, "primary")
    assert status == 409 and "no failover relationship" in str(result["detail"])
    r = alone.request("POST", "/api/v1/failover/role", json={"role": "king"})
    assert r.status_code == 422
