"""The small interface every shared-address driver implements, and what they share.

A driver only claims and gives up the address on this host. Serving the site on it is the SharedSite's job
(shared_ip/site.py), the same for every driver, so that a new driver (DNS swing, NAT swing) is one class.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from pa_console.protocol.models import SharedAddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class SharedAddressError(Exception):
    """A driver step that failed, phrased for the administrator."""


@dataclass(frozen=True)
class Endpoints:
    """Where the two appliances are, as the eligibility check needs them."""

    own_host: str | None
    peer_host: str | None


class SharedAddressDriver(ABC):
    name: ClassVar[str]

    def __init__(self, config: SharedAddress) -> None:
        self.config = config

    @property
    def address(self) -> IPAddress:
        return ipaddress.ip_address(self.config.address)

    @abstractmethod
    async def acquire(self) -> str:
        """Make the address this host's; returns what was done, raises SharedAddressError."""

    @abstractmethod
    async def release(self) -> str:
        """Give the address up (idempotent); returns what was done, raises SharedAddressError."""

    @abstractmethod
    async def holds(self) -> bool:
        """Whether this host holds the address now (checked again from time to time while primary)."""

    @abstractmethod
    async def ineligible(self, where: Endpoints) -> str | None:
        """Why automatic failover through this address cannot work here (None when it can): one sentence."""

    def describe(self) -> str:
        return f"{self.config.address} port {self.config.port} ({self.name})"


async def resolve(host: str) -> list[IPAddress]:
    """The addresses a host name (or literal) stands for; empty when it does not resolve."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return [ipaddress.ip_address(info[4][0]) for info in infos]
