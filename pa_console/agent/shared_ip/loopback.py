"""The `loopback` driver, for one machine and the demo: the address is an address of 127.0.0.0/8.

Every 127/8 address is already local, so claiming it *is* binding the site listener on it: the kernel refuses a
second live listener on the same address and port, which keeps two appliances on one host from both serving.
"""

from __future__ import annotations

import ipaddress

from pa_console.agent.shared_ip.base import Endpoints, SharedAddressDriver, SharedAddressError, resolve

LOOPBACK_NET = ipaddress.ip_network("127.0.0.0/8")


class LoopbackDriver(SharedAddressDriver):
    name = "loopback"

    def _check(self) -> None:
        if self.address not in LOOPBACK_NET:
            raise SharedAddressError(f"The loopback driver needs an address of 127.0.0.0/8, not {self.address}; "
                                     "use the iproute2 driver for a real network.")

    async def acquire(self) -> str:
        self._check()
        return f"{self.address} is a loopback address; the site listener binds it"

    async def release(self) -> str:
        return f"{self.address} released (the site listener closed)"

    async def holds(self) -> bool:
        return self.address in LOOPBACK_NET

    async def ineligible(self, where: Endpoints) -> str | None:
        if self.address not in LOOPBACK_NET:
            return f"the loopback driver's address {self.address} is not in 127.0.0.0/8"
        for what, host in (("this appliance", where.own_host), ("the peer appliance", where.peer_host)):
            if not host:
                return f"the address of {what} is not known"
            addresses = await resolve(host)
            if not addresses or not all(a in LOOPBACK_NET for a in addresses):
                return (f"{what} ({host}) does not listen on 127.0.0.0/8, so a loopback shared address "
                        f"{self.address} is not in a subnet both appliances share")
        return None
