"""The methods without a network: names, environment, and the runner's order and failure isolation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pa_console.agent.shared_ip.base import Endpoints
from pa_console.agent.takeover_methods import runner
from pa_console.agent.takeover_methods.base import SwingContext, TakeoverMethod, TakeoverMethodError
from pa_console.agent.takeover_methods.dns_swing import DnsSwingMethod
from pa_console.agent.takeover_methods.nat_swing import environment
from pa_console.protocol.models import DnsSwing, FailoverSettings, NatSwing
from tests.unit.takeover_methods.fakes import FakeRuntime


def dns(**overrides: Any) -> DnsSwing:
    return DnsSwing.model_validate({"server": "127.0.0.1", "zone": "example.com", "record": "pa",
                                    "tsig_key_name": "k", "address": "192.0.2.10"} | overrides)


@pytest.mark.parametrize(("record", "fqdn"), [
    ("pa", "pa.example.com."), ("pa.example.com", "pa.example.com."), ("pa.example.com.", "pa.example.com."),
    ("@", "example.com."), ("a.b", "a.b.example.com."),
])
def test_record_names_relative_absolute_and_apex(record: str, fqdn: str) -> None:
    assert str(DnsSwingMethod(dns(record=record), None).fqdn) == fqdn


def test_record_type_follows_the_address_family() -> None:
    assert DnsSwingMethod(dns(), None).rdtype.name == "A"
    assert DnsSwingMethod(dns(address="2001:db8::1"), None).rdtype.name == "AAAA"


def test_without_a_secret_nothing_is_sent_and_the_reason_is_given() -> None:
    method = DnsSwingMethod(dns(), None)
    with pytest.raises(TakeoverMethodError, match="No TSIG secret is set"):
        asyncio.run(method.acquire())
    problem = asyncio.run(method.ineligible(Endpoints(None, None)))
    assert problem is not None and problem.startswith("No TSIG secret is set")


def test_a_record_outside_the_zone_is_refused_before_sending() -> None:
    method = DnsSwingMethod(dns(record="pa.elsewhere.org."), "c2VjcmV0LXNlY3JldC1zZWNyZXQh")
    with pytest.raises(TakeoverMethodError, match=r"is not in the zone example\.com"):
        asyncio.run(method.acquire())


def test_nat_environment_at_takeover_and_demotion() -> None:
    config = NatSwing(command=["/bin/true"], address="198.51.100.4")
    ctx = SwingContext(own_name="beta", peer_name="alpha", reason="why", epoch=3)
    assert environment(config, ctx, "takeover") == {
        "PA_EVENT": "takeover", "PA_NEW_PRIMARY_NAME": "beta", "PA_NEW_PRIMARY_ADDRESS": "198.51.100.4",
        "PA_OLD_PRIMARY_NAME": "alpha", "PA_APPLIANCE_NAME": "beta", "PA_APPLIANCE_ADDRESS": "198.51.100.4",
        "PA_REASON": "why", "PA_EPOCH": "3"}
    down = environment(config, ctx, "demotion")
    assert (down["PA_NEW_PRIMARY_NAME"], down["PA_NEW_PRIMARY_ADDRESS"], down["PA_OLD_PRIMARY_NAME"]) == \
        ("alpha", "", "beta")


class Scripted(TakeoverMethod):
    """A method that does what it is told, and writes down when it ran."""

    def __init__(self, name: str, log: list[str], fail: BaseException | None = None, sleep: float = 0) -> None:
        self.name = name  # type: ignore[misc]
        self.log, self.fail, self.sleep = log, fail, sleep

    @property
    def time_limit_s(self) -> float:
        return 0.2

    async def _do(self, what: str) -> str:
        self.log.append(f"{self.name}:{what}")
        await asyncio.sleep(self.sleep)
        if self.fail is not None:
            raise self.fail
        return f"{self.name} {what} done"

    async def acquire(self) -> str:
        return await self._do("acquire")

    async def release(self) -> str:
        return await self._do("release")

    async def holds(self) -> bool | None:
        return None

    async def ineligible(self, where: Endpoints) -> str | None:
        return None

    def describe(self) -> str:
        return self.name


def run_with(monkeypatch: pytest.MonkeyPatch, methods: list[TakeoverMethod], event: str) -> tuple[Any, FakeRuntime]:
    runtime = FakeRuntime()
    monkeypatch.setattr(runner, "configured_methods", lambda *_a, **_k: list(methods))
    return asyncio.run(runner.run_takeover_methods(runtime, event, "test")), runtime  # type: ignore[arg-type]


def test_a_failed_step_does_not_stop_the_others_and_each_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[str] = []
    methods: list[TakeoverMethod] = [
        Scripted("first", log, TakeoverMethodError("The server said no.")),
        Scripted("second", log, RuntimeError("a bug")),
        Scripted("third", log, sleep=5),
        Scripted("fourth", log)]
    steps, runtime = run_with(monkeypatch, methods, "takeover")
    assert log == ["first:acquire", "second:acquire", "third:acquire", "fourth:acquire"]
    assert [(s.step, s.ok) for s in steps] == [("first", False), ("second", False), ("third", False),
                                               ("fourth", True)]
    assert steps[0].detail == "The server said no."
    assert "failed unexpectedly" in steps[1].detail and "a bug" in steps[1].detail
    assert "did not finish within 0.2 s" in steps[2].detail and steps[2].duration_s < 1
    assert [(e["method"], e["outcome"]) for e in runtime.steps()] == [
        ("first", "failed"), ("second", "failed"), ("third", "failed"), ("fourth", "done")]


def test_demotion_releases_in_reverse_order(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[str] = []
    steps, runtime = run_with(monkeypatch, [Scripted("dns_swing", log), Scripted("nat_swing", log)], "demotion")
    assert log == ["nat_swing:release", "dns_swing:release"]
    assert all(e["event"] == "demotion" for e in runtime.steps())
    assert [s.detail for s in steps] == ["nat_swing release done", "dns_swing release done"]


def test_blocker_without_any_method_and_with_only_a_dns_or_nat_swing() -> None:
    runtime = FakeRuntime()
    problem = asyncio.run(runner.methods_blocker(runtime, "no shared address is configured"))  # type: ignore[arg-type]
    assert problem == "no takeover method is configured (a shared address, a DNS swing or a NAT swing)"
    runtime.settings = FailoverSettings(nat_swing=NatSwing(command=["/bin/true"], address="198.51.100.4"))
    assert asyncio.run(runner.methods_blocker(runtime, "no shared address is configured")) is None  # type: ignore[arg-type]
    runtime.settings = FailoverSettings(nat_swing=NatSwing(command=["/nonexistent/hook"], address="198.51.100.4"))
    assert "does not exist" in (asyncio.run(runner.methods_blocker(runtime, None)) or "")  # type: ignore[arg-type]
