"""The `load_balancer` method: no address moves; each appliance serves the site on its own address while primary.

For sites behind a load balancer (HAProxy, F5, a cloud balancer) instead of a shared address: the balancer lists
both appliances' site addresses and health-checks each one's `GET /check_health` (200 on the active site only). At a
takeover the new primary opens the site on its own address and its check turns to 200; at a demotion the old one
closes it and its check turns to 500, so the balancer sends traffic to the primary only.
"""

from __future__ import annotations

import socket

from pa_console.agent.shared_ip.base import Endpoints, SharedAddressDriver, SharedAddressError


def _bindable(address: str) -> str | None:
    """Why this host cannot listen on the address (None when it can): a dry run on an ephemeral port."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError as exc:
            return f"this appliance cannot listen on {address} ({exc.strerror or exc}); give one of its own addresses"
    return None


class LoadBalancerDriver(SharedAddressDriver):
    name = "load_balancer"

    async def acquire(self) -> str:
        problem = _bindable(self.config.address)
        if problem:
            raise SharedAddressError(problem[0].upper() + problem[1:] + ".")
        return (f"{self.config.address} is this appliance's own address; the site opens on port {self.config.port} "
                "and /check_health answers 200 for the load balancer")

    async def release(self) -> str:
        return f"the site on {self.config.address}:{self.config.port} closed; /check_health answers 500 here"

    async def holds(self) -> bool:
        return _bindable(self.config.address) is None

    async def ineligible(self, where: Endpoints) -> str | None:
        return _bindable(self.config.address)

    def describe(self) -> str:
        return f"this appliance's own {self.config.address} port {self.config.port} behind a load balancer"
