"""Readiness with the load_balancer method: each appliance its own address, no shared subnet (issue 16)."""

from __future__ import annotations

from pa_console.console.state.readiness import check_readiness
from pa_console.protocol.models import FailoverSettings, SharedAddress
from tests.unit.console.factories import pair


def test_own_addresses_behind_a_load_balancer_are_ready() -> None:
    primary, backup = pair()
    primary.set_settings(FailoverSettings(shared_address=SharedAddress(driver="load_balancer", address="10.0.0.11")))
    backup.set_settings(FailoverSettings(shared_address=SharedAddress(driver="load_balancer", address="10.8.0.12")))
    item = {i.key: i for i in check_readiness(primary, backup).items}["shared"]
    assert item.ok is True and "load balancer" in item.detail and "10.8.0.12" in item.detail


def test_a_load_balancer_on_one_side_only_is_named() -> None:
    primary, backup = pair()
    primary.set_settings(FailoverSettings(shared_address=SharedAddress(driver="load_balancer", address="10.0.0.11")))
    backup.set_settings(FailoverSettings(shared_address=SharedAddress(driver="iproute2", address="10.0.0.100")))
    item = {i.key: i for i in check_readiness(primary, backup).items}["shared"]
    assert item.ok is False and "load_balancer on both" in item.detail
