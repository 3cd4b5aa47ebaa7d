"""The iproute2 driver between real hosts: two appliances and a client in network namespaces on one bridge."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.harness import wait_until
from tests.integration.failover.netns import SUBNET, Lan, NsAgent, why_not_available

pytestmark = pytest.mark.netns

SHARED = f"{SUBNET}.100"
SITE_PORT = 8443
TIMEOUT_S = 4


@pytest.fixture(scope="module")
def netns_allowed() -> None:
    reason = why_not_available()
    if reason is not None:
        print(f"\nSKIPPED iproute2 namespace test: {reason}")
        pytest.skip(reason)


@pytest.mark.timeout(120)
def test_the_shared_address_moves_and_the_client_follows(netns_allowed: None, tmp_path: Path) -> None:
    key_file = tmp_path / "ia.key"
    key_file.write_text("7c" * 32)
    with Lan() as lan:
        lan.add_host("a", 1)
        lan.add_host("b", 2)
        lan.add_host("c", 3)
        alpha = NsAgent.init(lan, "a", f"{SUBNET}.1", tmp_path, "alpha", key_file, [f"{SUBNET}.1", SHARED])
        beta = NsAgent.init(lan, "b", f"{SUBNET}.2", tmp_path, "beta", key_file, [f"{SUBNET}.2", SHARED])
        bundle = tmp_path / "both.pem"
        bundle.write_text(alpha.cacert.read_text() + beta.cacert.read_text())
        try:
            for agent in (alpha, beta):
                agent.start()
                status, body = agent.api("PUT", "/api/v1/failover/settings", {
                    "primary_timeout_s": TIMEOUT_S, "probe_interval_s": 0.5, "auto_failover": True,
                    "first_sync_delay_s": 3600,
                    "shared_address": {"driver": "iproute2", "address": SHARED, "port": SITE_PORT,
                                       "interface": "eth0", "prefix_len": 24}})
                assert status == 200, body
            status, body = alpha.api("POST", "/api/v1/failover/relationship", {
                "backup": {"host": beta.address, "port": beta.port},
                "reverse": {"host": alpha.address, "port": alpha.port}})
            assert status == 201, body

            def site_from_client() -> str | None:
                status, body = lan.curl("c", f"https://{SHARED}:{SITE_PORT}/site", bundle, timeout=1)
                return body.get("name") if status == 200 and isinstance(body, dict) else None

            wait_until(lambda: site_from_client() == "alpha", timeout=15, what="alpha serving the site")
            assert SHARED in lan.addresses("a") and SHARED not in lan.addresses("b")
            wait_until(lambda: beta.health()["primary_reachable"] is True, timeout=10, what="beta watching")
            # A backup takes over automatically only with a complete copy (issue 13): one sync first.
            status, body = beta.api("POST", "/api/v1/failover/sync")
            assert status == 202, body
            wait_until(lambda: beta.health().get("copy_complete") is True, timeout=30, what="beta's complete copy")

            # The primary's host dies: process killed, link gone (its stale address goes nowhere).
            t0 = time.monotonic()
            alpha.kill()
            lan.link("a", up=False)
            wait_until(lambda: site_from_client() == "beta", timeout=TIMEOUT_S + 15, interval=0.2,
                       what="the client to reach beta at the shared address")
            elapsed = time.monotonic() - t0
            print(f"\nclient reached the backup at {SHARED} {elapsed:.2f} s after the primary died "
                  f"(timeout {TIMEOUT_S} s)")
            assert elapsed <= TIMEOUT_S + 4, elapsed
            assert SHARED in lan.addresses("b")

            # The old primary comes back: it demotes itself, gives up its stale address, and the client stays.
            lan.link("a", up=True)
            alpha.start()
            wait_until(lambda: alpha.health()["role"] == "backup", timeout=15, what="alpha to demote itself")
            wait_until(lambda: SHARED not in lan.addresses("a"), timeout=15, what="alpha to drop the stale address")
            assert site_from_client() == "beta"
            assert beta.health()["role"] == "primary"
        finally:
            for agent in (alpha, beta):
                agent.kill()
