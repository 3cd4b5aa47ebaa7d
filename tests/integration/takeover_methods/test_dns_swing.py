"""DNS swing against a real BIND 9 on loopback: the record moves, the dry run changes nothing, bad keys are told."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from pa_console.agent.shared_ip.base import Endpoints
from pa_console.agent.takeover_methods.base import SwingContext, TakeoverMethodError
from pa_console.agent.takeover_methods.dns_swing import DnsSwingMethod
from pa_console.agent.takeover_methods.runner import run_takeover_methods
from pa_console.protocol.models import DnsSwing, FailoverSettings
from tests.harness import free_port
from tests.integration.takeover_methods.dns_server import (
    FIRST_ADDRESS,
    KEY_NAME,
    OTHER_SECRET,
    SECRET,
    ZONE,
    BindServer,
)
from tests.unit.takeover_methods.fakes import FakeRuntime

NOWHERE = Endpoints(own_host="127.0.0.1", peer_host="127.0.0.1")


def config(server: BindServer | None, **overrides: Any) -> DnsSwing:
    values: dict[str, Any] = {"server": "127.0.0.1", "port": server.port if server else free_port(), "zone": ZONE,
                              "record": "site", "ttl": 30, "tsig_key_name": KEY_NAME, "address": "127.0.0.11",
                              "timeout_s": 2, "tsig_secret_set": True}
    return DnsSwing.model_validate(values | overrides)


def method(server: BindServer | None, secret: str | None = SECRET, **overrides: Any) -> DnsSwingMethod:
    return DnsSwingMethod(config(server, **overrides), secret, SwingContext(own_name="beta", peer_name="alpha"))


def test_takeover_points_the_name_at_the_new_primary(dns_server: BindServer) -> None:
    assert dns_server.query(f"site.{ZONE}") == [FIRST_ADDRESS]
    done = asyncio.run(method(dns_server).acquire())
    assert dns_server.query(f"site.{ZONE}") == ["127.0.0.11"]
    assert dns_server.ttl(f"site.{ZONE}") == 30  # the short TTL of the settings, not the zone's 60
    assert "now points at 127.0.0.11" in done and f"was {FIRST_ADDRESS}" in done
    assert asyncio.run(method(dns_server).holds()) is True
    # Swinging back (the old primary takes over again) replaces the address rather than adding one.
    asyncio.run(method(dns_server, address="127.0.0.12").acquire())
    assert dns_server.query(f"site.{ZONE}") == ["127.0.0.12"]
    assert asyncio.run(method(dns_server).holds()) is False


def test_aaaa_for_an_ipv6_address_and_absolute_record_names(dns_server: BindServer) -> None:
    asyncio.run(method(dns_server, address="2001:db8::11", record=f"site.{ZONE}.").acquire())
    assert dns_server.query(f"site.{ZONE}", "AAAA") == ["2001:db8::11"]
    assert dns_server.query(f"site.{ZONE}") == [FIRST_ADDRESS]  # the A record is left alone


def test_dry_run_proves_the_key_and_changes_nothing(dns_server: BindServer) -> None:
    serial = dns_server.serial()
    assert asyncio.run(method(dns_server, address=FIRST_ADDRESS).ineligible(NOWHERE)) is None
    assert asyncio.run(method(dns_server).ineligible(NOWHERE)) is None
    assert dns_server.serial() == serial, "the dry run changed the zone"
    assert dns_server.query(f"site.{ZONE}") == [FIRST_ADDRESS]


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"secret": OTHER_SECRET}, "the TSIG signature does not verify (BADSIG)"),
    ({"tsig_key_name": "unknown-key"}, "it does not know the TSIG key 'unknown-key'"),
    ({"tsig_key_name": "other-key", "secret": OTHER_SECRET}, "(REFUSED): key 'other-key' may not change"),
    ({"record": "other"}, "may not change other.swing.test. A"),
    ({"zone": "elsewhere.test", "record": "site"}, "not authoritative for the zone elsewhere.test"),
    ({"secret": None}, "No TSIG secret is set"),
])
def test_a_refused_update_is_told_in_words_and_changes_nothing(dns_server: BindServer, kwargs: dict[str, Any],
                                                               words: str) -> None:
    serial = dns_server.serial()
    m = method(dns_server, **kwargs)
    with pytest.raises(TakeoverMethodError) as caught:
        asyncio.run(m.acquire())
    assert words in str(caught.value)
    problem = asyncio.run(m.ineligible(NOWHERE))  # the readiness check says the same, by dry run
    assert problem is not None and words.rstrip(".") in problem
    assert dns_server.query(f"site.{ZONE}") == [FIRST_ADDRESS] and dns_server.serial() == serial
    assert SECRET not in str(caught.value) and OTHER_SECRET not in str(caught.value)


def test_wrong_key_is_a_failed_takeover_step_and_the_others_still_run(dns_server: BindServer, tmp_path: Any) -> None:
    marker = tmp_path / "nat-ran"
    script = tmp_path / "nat.sh"
    script.write_text(f"#!/bin/sh\necho swung > {marker}\n")
    script.chmod(0o755)
    runtime = FakeRuntime(settings=FailoverSettings.model_validate({
        "dns_swing": config(dns_server).model_dump(),
        "nat_swing": {"command": [str(script)], "address": "127.0.0.11", "timeout_s": 5}}))
    runtime.local.set("dns_swing_tsig_secret", OTHER_SECRET)
    steps = asyncio.run(run_takeover_methods(runtime, "takeover", "test"))  # type: ignore[arg-type]
    assert [(s.step, s.ok) for s in steps] == [("dns_swing", False), ("nat_swing", True)]
    assert "BADSIG" in steps[0].detail and "Set the secret again" in steps[0].detail
    assert marker.read_text().strip() == "swung"
    published = runtime.steps()
    assert [(e["method"], e["outcome"], e["event"]) for e in published] == [
        ("dns_swing", "failed", "takeover"), ("nat_swing", "done", "takeover")]
    assert all(isinstance(e["duration_s"], float) for e in published)
    assert OTHER_SECRET not in repr(runtime.bus.events)
    assert dns_server.query(f"site.{ZONE}") == [FIRST_ADDRESS]


def test_a_server_that_is_not_there_is_told_quickly() -> None:
    m = method(None)
    t0 = time.monotonic()
    with pytest.raises(TakeoverMethodError, match=r"Cannot reach the DNS server 127\.0\.0\.1 port"):
        asyncio.run(m.acquire())
    assert time.monotonic() - t0 < 3
    assert "Cannot reach" in (asyncio.run(m.ineligible(NOWHERE)) or "")
