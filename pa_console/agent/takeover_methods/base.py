"""The small interface of a takeover method, the same as a shared-address driver's (shared_ip/base.py).

A method points the site's clients at the new primary by something outside this host: a DNS record (DNS swing) or
a firewall's NAT rule (NAT swing). `acquire` runs when this appliance becomes the primary, `release` (in reverse
order) when it stops being one; both return what was done in words, or raise TakeoverMethodError in words.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

from pa_console.agent.shared_ip.base import Endpoints, SharedAddressError

SwingEvent = Literal["takeover", "demotion"]


class TakeoverMethodError(SharedAddressError):
    """A method's step that failed, phrased for the administrator.

    A SharedAddressError, so that code written for the shared-address drivers reports it the same way."""


@dataclass(frozen=True)
class SwingContext:
    """Who is involved in a role change, as a method needs to tell the outside world."""

    own_name: str
    peer_name: str | None = None
    reason: str = ""
    epoch: int = 0


class TakeoverMethod(ABC):
    name: ClassVar[str]

    @abstractmethod
    async def acquire(self) -> str:
        """Point the site's clients at this appliance (it becomes the primary)."""

    @abstractmethod
    async def release(self) -> str:
        """This appliance stops being the primary; idempotent."""

    @abstractmethod
    async def holds(self) -> bool | None:
        """Whether the clients are pointed here now; None when the method cannot tell."""

    @abstractmethod
    async def ineligible(self, where: Endpoints) -> str | None:
        """Why a takeover through this method cannot work now (a dry run: nothing changes); None when it can."""

    @property
    @abstractmethod
    def time_limit_s(self) -> float:
        """How long a step may take at most, all included (the runner gives up after that)."""

    @abstractmethod
    def describe(self) -> str:
        """One line for messages: what the method changes."""
