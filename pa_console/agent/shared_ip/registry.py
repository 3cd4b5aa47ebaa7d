"""Drivers by name, as `shared_address.driver` names them. A new driver is one class and one line here."""

from __future__ import annotations

from pa_console.agent.shared_ip.base import SharedAddressDriver, SharedAddressError
from pa_console.agent.shared_ip.iproute2 import Iproute2Driver
from pa_console.agent.shared_ip.load_balancer import LoadBalancerDriver
from pa_console.agent.shared_ip.loopback import LoopbackDriver
from pa_console.protocol.models import SharedAddress

DRIVERS: dict[str, type[SharedAddressDriver]] = {
    LoopbackDriver.name: LoopbackDriver,
    Iproute2Driver.name: Iproute2Driver,
    LoadBalancerDriver.name: LoadBalancerDriver,
}


def make_driver(config: SharedAddress) -> SharedAddressDriver:
    try:
        return DRIVERS[config.driver](config)
    except KeyError:
        known = ", ".join(sorted(DRIVERS))
        raise SharedAddressError(f"No shared-address driver named {config.driver!r}; known: {known}.") from None
