"""Two console clients asking role changes at the same moment (fired together with asyncio.gather), real agents.

Found by probing as an adversary: opposite swaps asked on the two appliances at once each held its own transition
lock while waiting for the other's, so both waited 30 s, and the primary then answered "alpha stayed the primary"
although it had become the backup. The same swap asked twice at once promoted twice (epoch +2, two "done").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.harness import RunningAgent, SmtpSink, pinned_context
from tests.integration.failover.helpers import make_pair, roles

ANSWER_WITHIN_S = 20.0  # the peer calls of a swap time out after 30 s: a wait that long is the deadlock


async def _ask(agent: RunningAgent, role: str, **flags: bool) -> tuple[float, int, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=agent.url, verify=pinned_context(agent.cert_pem), timeout=90,
                                 headers={"Authorization": f"Bearer {agent.token}"}) as client:
        t0 = time.monotonic()
        r = await client.post("/api/v1/failover/role", json={"role": role, **flags})
        return time.monotonic() - t0, r.status_code, r.json()


def _at_once(*asks: tuple[RunningAgent, str], **flags: bool) -> list[tuple[float, int, dict[str, Any]]]:
    async def run() -> list[tuple[float, int, dict[str, Any]]]:
        return list(await asyncio.gather(*(_ask(agent, role, **flags) for agent, role in asks)))

    return asyncio.run(run())


@pytest.mark.timeout(180)
def test_simultaneous_role_requests_answer_at_once_and_truthfully(agents: Callable[..., RunningAgent],
                                                                  smtp_sink: SmtpSink) -> None:
    pair = make_pair(agents, smtp_sink, primary_timeout_s=30)
    alpha, beta = pair.primary, pair.backup

    # Opposite swaps asked on both appliances at once (two administrators, two consoles).
    answers = _at_once((beta, "primary"), (alpha, "backup"))
    final = dict(zip(("alpha", "beta"), roles(alpha, beta), strict=True))
    assert sorted(final.values()) == ["backup", "primary"], final
    for (took, status, body), name in zip(answers, ("beta", "alpha"), strict=True):
        assert took < ANSWER_WITHIN_S, (name, took, body)
        assert status < 500 or "stayed the primary" in body["detail"], (name, status, body)
        if status == 200:
            assert body["role"] == final[name], (name, body, final)  # what it says it became, it is
        else:
            assert (body["detail"].endswith(".") and "nothing was changed" in body["detail"]) \
                or "stayed the primary" in body["detail"], body
        if "stayed the primary" in body.get("detail", ""):
            assert final[name] == "primary", (name, body, final)

    # The same swap asked twice at once on the backup: one swap, not two. (With a last sync first: the new backup
    # holds no complete copy of the new primary's store yet.)
    backup = alpha if final["alpha"] == "backup" else beta
    answers = _at_once((backup, "primary"), (backup, "primary"), sync_first=True)
    done = [body for _, status, body in answers if status == 200 and "Planned swap done" in body["detail"]]
    assert len(done) == 1, answers
    for _, status, body in answers:
        assert status == 200 or (status == 409 and "still under way" in body["detail"]), answers
    assert roles(alpha, beta).count("primary") == 1
    new_primary, new_backup = (backup, alpha if backup is beta else beta)
    # One swap: the old primary stepped down once (its epoch +1), the new one was promoted once, just above it.
    assert new_primary.health()["epoch"] == new_backup.health()["epoch"] + 1, answers
