"""GET /metrics in Prometheus text format, parsed by the Prometheus client's own parser (issue 16)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import RunningAgent, SmtpSink, pinned_context, wait_until
from tests.integration.failover.helpers import make_pair
from tests.integration.sync.pair import sync_now


def scrape(agent: RunningAgent) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{metric sample name: {labels: value}}, through the Prometheus client's parser."""
    with agent.client(timeout=10) as c:
        r = c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def one(metrics: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str, **labels: str) -> float:
    for key, value in metrics.get(name, {}).items():
        if all((k, v) in key for k, v in labels.items()):
            return value
    raise AssertionError(f"no sample {name} {labels}; have {sorted(metrics)}")


def test_metrics_need_a_token(agents: Callable[..., RunningAgent]) -> None:
    solo = agents("solo")
    with httpx.Client(base_url=solo.url, verify=pinned_context(solo.cert_pem), timeout=10) as c:
        assert c.get("/metrics").status_code == 401
    metrics = scrape(solo)
    assert one(metrics, "pa_agent_role", role="standalone") == 1 and one(metrics, "pa_agent_role", role="primary") == 0
    assert one(metrics, "pa_agent_active_site") == 1 and one(metrics, "pa_agent_sync_status", status="never") == 1


@pytest.mark.timeout(180)
def test_metrics_of_a_pair_through_sync_and_a_lost_primary(agents: Callable[..., RunningAgent],
                                                           smtp_sink: SmtpSink) -> None:
    pair = make_pair(agents, smtp_sink, primary_timeout_s=60, auto_failover=False)
    alpha, beta = pair.primary, pair.backup
    alpha.seed(30, recording_bytes=2000)
    report = sync_now(beta)
    m = scrape(beta)
    assert one(m, "pa_agent_role", role="backup") == 1 and one(m, "pa_agent_active_site") == 0
    assert one(m, "pa_agent_epoch") == beta.health()["epoch"] >= 1
    assert one(m, "pa_agent_sync_status", status="ok") == 1
    assert 0 <= one(m, "pa_agent_sync_age_seconds") < 120
    assert one(m, "pa_agent_last_sync_rows_moved") == report["rows_moved"] > 0
    assert one(m, "pa_agent_sync_bytes_moved_total") >= report["bytes_moved"] >= 30 * 2000
    assert one(m, "pa_agent_sync_rows_moved_total") >= report["rows_moved"]
    assert one(m, "pa_agent_syncs_total") >= 1 and one(m, "pa_agent_primary_reachable") == 1
    assert one(m, "pa_agent_probe_failures") == 0 and "pa_agent_failover_countdown_seconds" not in m
    mails_before = one(m, "pa_agent_mails_sent_total")
    p = scrape(alpha)
    assert one(p, "pa_agent_role", role="primary") == 1 and one(p, "pa_agent_active_site") == 1
    assert one(p, "pa_agent_serving_site") == 1

    # The primary is lost: the countdown, probe failures and the mails sent show.
    alpha.kill()
    wait_until(lambda: "pa_agent_failover_countdown_seconds" in scrape(beta), timeout=30,
               what="the countdown in the metrics")
    m = scrape(beta)
    assert 0 < one(m, "pa_agent_failover_countdown_seconds") <= 60
    assert one(m, "pa_agent_probe_failures") >= 1 and one(m, "pa_agent_primary_reachable") == 0
    wait_until(lambda: one(scrape(beta), "pa_agent_mails_sent_total") > mails_before, timeout=30,
               what="a mail counted")
    assert one(scrape(beta), "pa_agent_primary_lost_total") >= 1
