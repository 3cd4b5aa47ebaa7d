"""A backup whose first pull starts at once finds its primary already recorded (no race at establishing)."""

from __future__ import annotations

from tests.harness import wait_until
from tests.integration.sync.pair import KEY, configure, establish


def test_first_sync_right_after_establishing_succeeds(agents) -> None:  # type: ignore[no-untyped-def]
    for attempt in range(3):
        p = agents(f"primary{attempt}", key_hex=KEY)
        b = agents(f"backup{attempt}", key_hex=KEY)
        p.seed(3, 100)
        configure(b, first_sync_delay_s=0)
        establish(p, b)
        report = wait_until(lambda b=b: b.health()["last_sync"], timeout=20, what="the first sync")
        assert report["status"] == "ok", report
        assert b.digest()["sha256"] == p.digest()["sha256"]
