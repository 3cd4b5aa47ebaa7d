"""The `iproute2` driver (Linux): the address is added to an interface and announced with a gratuitous ARP.

Without the gratuitous ARP, clients on the subnet keep the old holder's MAC for 30-40 s (measured, STACK.md); with
it they follow at once. Needs CAP_NET_ADMIN (root) and `ip`, plus `arping` (iputils) for the announcement.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from pa_console.agent.shared_ip.base import Endpoints, SharedAddressDriver, SharedAddressError, resolve
from pa_console.agent.shared_ip.commands import Outcome, run

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Iproute2Driver(SharedAddressDriver):
    name = "iproute2"

    @property
    def interface(self) -> str:
        if not self.config.interface:
            raise SharedAddressError("The iproute2 driver needs the interface the shared address lives on "
                                     "(shared_address.interface, e.g. eth0).")
        return self.config.interface

    @property
    def cidr(self) -> str:
        return f"{self.address}/{self.config.prefix_len}"

    def describe(self) -> str:
        return f"{self.cidr} on {self.config.interface or '?'} port {self.config.port} (iproute2)"

    async def _addresses(self) -> list[dict[str, Any]]:
        outcome = await run(["ip", "-j", "addr", "show", "dev", self.interface], timeout=5)
        if not outcome.ok:
            raise SharedAddressError(f"Cannot read the addresses of interface {self.interface}: "
                                     f"{outcome.sentence()}.")
        try:
            links = json.loads(outcome.output or "[]")
        except ValueError as exc:
            raise SharedAddressError(f"'ip -j addr' printed something unexpected: {exc}.") from exc
        return [info for link in links for info in link.get("addr_info", [])]

    async def acquire(self) -> str:
        argv = ["ip", "addr", "add", self.cidr, "dev", self.interface]
        if self.address.version == 6:
            argv.append("nodad")  # duplicate address detection would hold the address back for seconds
        added = await run(argv, timeout=5)
        if not added.ok and "File exists" not in added.output:
            raise SharedAddressError(f"Cannot add {self.cidr} to {self.interface}: {added.sentence()}.")
        done = f"{self.cidr} added to {self.interface}" if added.ok else f"{self.cidr} already on {self.interface}"
        if self.address.version == 6:
            return done + " (IPv6: neighbours learn it through unsolicited neighbour advertisements by the kernel)"
        announced = await self._announce()
        if not announced.ok:
            return (done + f"; the gratuitous ARP failed ({announced.sentence()}), so clients may keep the old "
                    "holder's MAC for up to a minute")
        return done + " and announced by gratuitous ARP"

    async def _announce(self) -> Outcome:
        # -U: unsolicited ARP (updates neighbours' caches, no reply expected); -w bounds the wait for replies.
        return await run(["arping", "-U", "-c", "1", "-w", "1", "-I", self.interface, str(self.address)],
                         timeout=5)

    async def release(self) -> str:
        removed = await run(["ip", "addr", "del", self.cidr, "dev", self.interface], timeout=5)
        if removed.ok:
            return f"{self.cidr} removed from {self.interface}"
        if "Cannot assign requested address" in removed.output or "does not exist" in removed.output:
            return f"{self.cidr} was not on {self.interface}"
        raise SharedAddressError(f"Cannot remove {self.cidr} from {self.interface}: {removed.sentence()}.")

    async def holds(self) -> bool:
        try:
            infos = await self._addresses()
        except SharedAddressError:
            return False
        return any(info.get("local") == str(self.address) for info in infos)

    async def ineligible(self, where: Endpoints) -> str | None:
        try:
            infos = await self._addresses()
        except SharedAddressError as exc:
            return str(exc).rstrip(".")
        networks: list[IPNetwork] = []
        for info in infos:
            if info.get("local") and info.get("local") != str(self.address):
                networks.append(ipaddress.ip_interface(f"{info['local']}/{info.get('prefixlen', 32)}").network)
        subnet = next((n for n in networks if self.address in n), None)
        if subnet is None:
            return (f"the shared address {self.address} is not in a subnet of interface {self.interface} "
                    f"({', '.join(map(str, networks)) or 'no addresses'})")
        if not where.peer_host:
            return "the peer appliance's address is not known"
        peer = await resolve(where.peer_host)
        if not any(a in subnet for a in peer):
            return (f"the peer appliance ({where.peer_host}) is not in {subnet}, so the shared address "
                    f"{self.address} is not in a subnet both appliances share")
        return None
