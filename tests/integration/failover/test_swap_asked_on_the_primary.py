"""A planned swap asked on the primary (POST /failover/role {"role": "backup"}, or BeyondTrust's set_failover_role)
obeys the same rule as one asked on the backup (issue 13): a backup without a complete copy is not made the primary
unless sync_first or force. Found by probing: asked on the primary, a never-synced backup became the primary with
0 of 50 sessions, and the 50 were left only in the old primary's split-brain file."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.harness import RunningAgent, SmtpSink
from tests.integration.failover.helpers import make_pair, roles


@pytest.mark.timeout(120)
def test_a_swap_asked_on_the_primary_needs_a_complete_copy(agents: Callable[..., RunningAgent],
                                                           smtp_sink: SmtpSink) -> None:
    pair = make_pair(agents, smtp_sink, primary_timeout_s=30, synced=False)
    alpha, beta = pair.primary, pair.backup
    alpha.seed(50)
    r = alpha.request("POST", "/api/v1/failover/role", json={"role": "backup"})
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert "never completed a sync" in detail and "sync_first" in detail and "nothing was changed" in detail, detail
    r = alpha.request("POST", "/api/command", data={"action": "set_failover_role", "role": "backup"})
    assert r.status_code == 409 and "sync_first" in r.text, r.text
    assert roles(alpha, beta) == ["primary", "backup"]
    assert alpha.digest()["sessions"] == 50
    pair.wait_site("alpha")

    # With a last sync first, the swap goes ahead and the new primary serves all 50 sessions.
    r = alpha.request("POST", "/api/v1/failover/role", json={"role": "backup", "sync_first": True})
    assert r.status_code == 200, r.text
    assert roles(alpha, beta) == ["backup", "primary"]
    assert beta.digest()["sessions"] == 50
    pair.wait_site("beta")
