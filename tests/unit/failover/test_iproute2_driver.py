"""The iproute2 driver's commands and eligibility, with `ip`/`arping` replaced by a recorder (no root needed)."""

from __future__ import annotations

import asyncio
import json

import pytest

from pa_console.agent.shared_ip import iproute2
from pa_console.agent.shared_ip.base import Endpoints, SharedAddressError
from pa_console.agent.shared_ip.commands import Outcome
from pa_console.protocol.models import SharedAddress

SHARED = SharedAddress(driver="iproute2", address="10.77.0.100", port=8443, interface="eth0", prefix_len=24)


class FakeTools:
    def __init__(self, addresses: list[tuple[str, int]], answers: dict[str, Outcome] | None = None) -> None:
        self.addresses = addresses
        self.answers = answers or {}
        self.calls: list[list[str]] = []

    async def __call__(self, argv: list[str], timeout: float = 10.0) -> Outcome:
        self.calls.append(argv)
        key = " ".join(argv[:3])
        if key in self.answers:
            return self.answers[key]
        if argv[:3] == ["ip", "-j", "addr"]:
            infos = [{"local": a, "prefixlen": p} for a, p in self.addresses]
            return Outcome(tuple(argv), 0, json.dumps([{"ifname": "eth0", "addr_info": infos}]))
        return Outcome(tuple(argv), 0, "")


@pytest.fixture
def tools(monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    fake = FakeTools([("10.77.0.1", 24)])
    monkeypatch.setattr(iproute2, "run", fake)
    return fake


def test_acquire_adds_the_address_and_announces_it(tools: FakeTools) -> None:
    done = asyncio.run(iproute2.Iproute2Driver(SHARED).acquire())
    assert tools.calls[0] == ["ip", "addr", "add", "10.77.0.100/24", "dev", "eth0"]
    assert tools.calls[1] == ["arping", "-U", "-c", "1", "-w", "1", "-I", "eth0", "10.77.0.100"]
    assert "gratuitous ARP" in done


def test_a_failed_announcement_is_reported_but_keeps_the_address(tools: FakeTools) -> None:
    tools.answers["arping -U -c"] = Outcome(("arping",), 127, "arping is not installed")
    done = asyncio.run(iproute2.Iproute2Driver(SHARED).acquire())
    assert "gratuitous ARP failed" in done and "not installed" in done


def test_acquire_refused_in_words(tools: FakeTools) -> None:
    tools.answers["ip addr add"] = Outcome(("ip",), 2, "RTNETLINK answers: Operation not permitted")
    with pytest.raises(SharedAddressError, match="Operation not permitted"):
        asyncio.run(iproute2.Iproute2Driver(SHARED).acquire())


def test_release_is_idempotent(tools: FakeTools) -> None:
    assert "removed" in asyncio.run(iproute2.Iproute2Driver(SHARED).release())
    tools.answers["ip addr del"] = Outcome(("ip",), 2, "RTNETLINK answers: Cannot assign requested address")
    assert "was not on" in asyncio.run(iproute2.Iproute2Driver(SHARED).release())


def test_holds_reads_the_interface(tools: FakeTools) -> None:
    driver = iproute2.Iproute2Driver(SHARED)
    assert asyncio.run(driver.holds()) is False
    tools.addresses.append(("10.77.0.100", 24))
    assert asyncio.run(driver.holds()) is True


def test_eligible_only_when_the_peer_shares_the_subnet(tools: FakeTools) -> None:
    driver = iproute2.Iproute2Driver(SHARED)
    assert asyncio.run(driver.ineligible(Endpoints("10.77.0.1", "10.77.0.2"))) is None
    reason = asyncio.run(driver.ineligible(Endpoints("10.77.0.1", "192.0.2.2")))
    assert reason is not None and "subnet both appliances share" in reason
    elsewhere = iproute2.Iproute2Driver(SHARED.model_copy(update={"address": "10.88.0.100"}))
    reason = asyncio.run(elsewhere.ineligible(Endpoints("10.77.0.1", "10.77.0.2")))
    assert reason is not None and "not in a subnet of interface eth0" in reason


def test_missing_interface_is_a_reason(tools: FakeTools) -> None:
    tools.answers["ip -j addr"] = Outcome(("ip",), 1, 'Device "eth9" does not exist.')
    reason = asyncio.run(iproute2.Iproute2Driver(SHARED).ineligible(Endpoints("10.77.0.1", "10.77.0.2")))
    assert reason is not None and "does not exist" in reason
    no_iface = iproute2.Iproute2Driver(SHARED.model_copy(update={"interface": None}))
    reason = asyncio.run(no_iface.ineligible(Endpoints("10.77.0.1", "10.77.0.2")))
    assert reason is not None and "needs the interface" in reason
