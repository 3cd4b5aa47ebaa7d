"""The dependency every endpoint that writes site data carries: after a stall, the backup is asked first
(failover/pause_guard.py), so a primary replaced while it was frozen does not acknowledge the write."""

from __future__ import annotations

from fastapi import Depends

from pa_console.agent.auth import Runtime
from pa_console.agent.failover.service import FailoverService


async def primary_confirmed(runtime: Runtime) -> None:
    try:
        service = FailoverService.of(runtime)
    except LookupError:  # an agent run without the failover service (tests of the API alone)
        return
    await service.pause_guard.before_write()


PrimaryConfirmed = Depends(primary_confirmed)
