"""Establish and break asked at the same moment by two console clients (asyncio.gather), real agents over TLS.

Found by probing: two establishes at once on one appliance both failed, saying the Reverse Connection Details were
wrong; opposite establishes on the two appliances left one "primary, paired" with a peer that was standalone (two
active sites). Now one change at a time per appliance, the other refused at once with a sentence, and the two
appliances always agree."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.harness import RunningAgent, pinned_context
from tests.integration.sync.pair import KEY


async def _call(agent: RunningAgent, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=agent.url, verify=pinned_context(agent.cert_pem), timeout=60,
                                 headers={"Authorization": f"Bearer {agent.token}"}) as client:
        r = await client.request(method, path, json=body)
        return r.status_code, r.json()


def _at_once(*calls: tuple[RunningAgent, str, str, Any]) -> list[tuple[int, dict[str, Any]]]:
    async def run() -> list[tuple[int, dict[str, Any]]]:
        return list(await asyncio.gather(*(_call(*call) for call in calls)))

    return asyncio.run(run())


def _establish_body(backup: RunningAgent, primary: RunningAgent) -> dict[str, Any]:
    return {"backup": {"host": backup.host, "port": backup.port},
            "reverse": {"host": primary.host, "port": primary.port}}


def _consistent(a: RunningAgent, b: RunningAgent) -> dict[str, str]:
    """Both standalone, or one primary and one backup, each naming the other."""
    health = {x.name: x.health() for x in (a, b)}
    roles = {name: h["role"] for name, h in health.items()}
    if set(roles.values()) == {"standalone"}:
        assert not any(h["relationship_established"] for h in health.values()), health
    else:
        assert sorted(roles.values()) == ["backup", "primary"], roles
        for x, other in ((a, b), (b, a)):
            assert (health[x.name]["peer"] or {}).get("name") == other.name, health
    return roles


def _busy_or_created(status: int, body: dict[str, Any]) -> None:
    assert status == 201 or (status == 409 and body["detail"].endswith(".")), (status, body)
    assert status < 500


@pytest.mark.timeout(120)
def test_simultaneous_establish_and_break_leave_both_appliances_agreeing(
        agents: Callable[..., RunningAgent]) -> None:
    alpha, beta = agents("alpha", key_hex=KEY), agents("beta", key_hex=KEY)
    path = "/api/v1/failover/relationship"

    # The same establish asked twice at once: one made, the other told a change is under way.
    answers = _at_once((alpha, "POST", path, _establish_body(beta, alpha)),
                       (alpha, "POST", path, _establish_body(beta, alpha)))
    assert sorted(status for status, _ in answers) == [201, 409], answers
    assert "under way" in next(body for status, body in answers if status == 409)["detail"]
    assert _consistent(alpha, beta) == {"alpha": "primary", "beta": "backup"}

    for _ in range(3):
        # Break on both appliances at once: both standalone, no 5xx.
        for status, body in _at_once((alpha, "DELETE", path, None), (beta, "DELETE", path, None)):
            assert status in (200, 404, 409), (status, body)
        assert _consistent(alpha, beta) == {"alpha": "standalone", "beta": "standalone"}
        # Opposite establishes at once: at most one made, and both appliances agree on it.
        answers = _at_once((alpha, "POST", path, _establish_body(beta, alpha)),
                           (beta, "POST", path, _establish_body(alpha, beta)))
        for status, body in answers:
            _busy_or_created(status, body)
        roles = _consistent(alpha, beta)
        made = [asker for asker, (status, _) in zip(("alpha", "beta"), answers, strict=True) if status == 201]
        assert len(made) <= 1, answers
        for asker in made:
            assert roles[asker] == "primary", (answers, roles)
        if not made:
            assert set(roles.values()) == {"standalone"}, (answers, roles)
        if set(roles.values()) == {"standalone"}:
            assert _at_once((alpha, "POST", path, _establish_body(beta, alpha)))[0][0] == 201
