"""Synchronisation between two real agents over TLS."""

from __future__ import annotations

from tests.integration.sync.pair import KEY, configure, establish, sync_now


def test_first_sync_then_incremental(agents) -> None:  # type: ignore[no-untyped-def]
    p = agents("primary", key_hex=KEY)
    b = agents("backup", key_hex=KEY)
    p.seed(200, 50_000)
    configure(b, first_sync_delay_s=3600)
    establish(p, b)
    report = sync_now(b)
    assert report["status"] == "ok", report
    assert report["digest_ok"] is True
    assert p.digest()["sha256"] == b.digest()["sha256"]
    assert report["bytes_moved"] >= 200 * 50_000
    p.seed(1, 1000)
    report2 = sync_now(b)
    assert report2["status"] == "ok"
    assert p.digest()["sha256"] == b.digest()["sha256"]
    assert report2["bytes_moved"] < 20_000, report2
