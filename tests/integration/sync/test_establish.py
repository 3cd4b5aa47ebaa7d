"""Establishing the relationship: keys proven by challenge/response, nothing changed on any failure."""

from __future__ import annotations

from tests.harness import free_port
from tests.integration.sync.pair import KEY, establish


def _state(agent):  # type: ignore[no-untyped-def]
    h = agent.health()
    return (h["role"], h["relationship_established"], agent.request("GET", "/api/v1/failover/relationship").status_code)


def test_key_mismatch_is_refused_and_nothing_changes(agents) -> None:  # type: ignore[no-untyped-def]
    p = agents("primary", key_hex=KEY)
    b = agents("backup", key_hex="6b" * 32)
    before = (_state(p), _state(b))
    r = establish(p, b, expect=403)
    assert "keys of the two appliances differ" in r["detail"] and "Security" in r["detail"]
    assert (_state(p), _state(b)) == before == (("standalone", False, 404), ("standalone", False, 404))
    # Neither key crossed the wire or reached a log.
    for agent in (p, b):
        assert KEY not in agent.output() and "6b" * 32 not in agent.output()


def test_establish_makes_primary_and_backup(agents) -> None:  # type: ignore[no-untyped-def]
    p = agents("primary", key_hex=KEY)
    b = agents("backup", key_hex=KEY)
    info = establish(p, b)
    assert info["role"] == "primary" and info["peer"]["name"] == "backup"
    assert info["peer"]["fingerprint_sha256"] == b.fingerprint
    hp, hb = p.health(), b.health()
    assert hp["role"] == "primary" and hb["role"] == "backup"
    assert hp["relationship_established"] and hb["relationship_established"]
    assert hp["epoch"] == hb["epoch"]
    assert hb["peer"]["fingerprint_sha256"] == p.fingerprint
    # A third appliance cannot join either side.
    c = agents("third", key_hex=KEY)
    r = establish(c, b, expect=409)
    assert "already in a failover relationship" in r["detail"]
    assert _state(c) == ("standalone", False, 404)
    events = b.request("GET", "/api/v1/events", params={"after": 0, "follow": "false"}).text
    assert "relationship_established" in events and KEY not in events


def test_unreachable_wrong_port_and_self_are_refused(agents) -> None:  # type: ignore[no-untyped-def]
    p = agents("primary", key_hex=KEY)
    r = p.request("POST", "/api/v1/failover/relationship", json={
        "backup": {"host": "127.0.0.1", "port": free_port()}, "reverse": {"host": "127.0.0.1", "port": p.port}})
    assert r.status_code == 409 and "Nothing accepts connections" in r.json()["detail"]
    r = p.request("POST", "/api/v1/failover/relationship", json={
        "backup": {"host": "127.0.0.1", "port": p.port}, "reverse": {"host": "127.0.0.1", "port": p.port}})
    assert r.status_code == 400 and "this very appliance" in r.json()["detail"]
    r = p.request("POST", "/api/v1/failover/relationship", json={
        "backup": {"host": "127.0.0.1", "port": 0}, "reverse": {"host": "127.0.0.1", "port": p.port}})
    assert r.status_code == 422 and "port" in r.json()["detail"]
    assert p.health()["role"] == "standalone"


def test_wrong_reverse_details_are_refused_on_both_sides(agents) -> None:  # type: ignore[no-untyped-def]
    p = agents("primary", key_hex=KEY)
    b = agents("backup", key_hex=KEY)
    r = p.request("POST", "/api/v1/failover/relationship", json={
        "backup": {"host": b.host, "port": b.port}, "reverse": {"host": "127.0.0.1", "port": free_port()}})
    assert r.status_code == 409 and "Reverse Connection Details" in r.json()["detail"], r.text
    assert _state(p) == ("standalone", False, 404) and _state(b) == ("standalone", False, 404)
