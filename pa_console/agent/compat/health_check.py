"""Is this appliance healthy and the active site? One answer for `/check_health`, the command API and metrics.

BeyondTrust answers `/check_health` with 200 only on the appliance that serves the site (a primary, or one that is
in no failover relationship), so a load balancer sends traffic to exactly that one; a backup answers 500.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pa_console.protocol.models import Role

if TYPE_CHECKING:
    from pa_console.agent.runtime import AgentRuntime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthVerdict:
    healthy: bool
    active: bool
    role: Role | None
    sentence: str

    @property
    def ok(self) -> bool:
        return self.healthy and self.active


def judge(runtime: AgentRuntime) -> HealthVerdict:
    """Read the store (so a broken store shows as unhealthy) and decide; never raises."""
    name = runtime.name
    try:
        role = runtime.role
        settings = runtime.settings
    except (sqlite3.Error, ValueError) as exc:
        log.warning("health check: the store cannot be read: %s", exc)
        return HealthVerdict(False, False, None, f"{name} is not healthy: its store cannot be read.")
    if role == Role.BACKUP:
        return HealthVerdict(True, False, role, f"{name} is healthy but is the backup site, not the active one.")
    if role == Role.PRIMARY and settings.shared_address is not None and not runtime.serving_shared_address:
        where = f"{settings.shared_address.address}:{settings.shared_address.port}"
        return HealthVerdict(False, True, role, f"{name} is the primary but does not serve the site on {where}.")
    what = "the primary site" if role == Role.PRIMARY else "a standalone site"
    return HealthVerdict(True, True, role, f"{name} is healthy and is {what}.")
