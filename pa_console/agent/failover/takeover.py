"""Promotion and demotion as ordered steps, each reported (TAKEOVER_STEP) with its outcome and duration.

Issue 9 adds further takeover methods (DNS swing, NAT swing) as more steps here; a failed step never stops the
others and is reported plainly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

from pa_console.agent.failover import authority
from pa_console.agent.failover.authority import change_role
from pa_console.agent.shared_ip.base import SharedAddressError
from pa_console.protocol.events import Takeover, TakeoverHow, TakeoverStep, TakeoverStepSummary
from pa_console.protocol.models import Role

if TYPE_CHECKING:
    from pa_console.agent.runtime import AgentRuntime
    from pa_console.agent.shared_ip.site import SharedSite


@dataclass(frozen=True)
class StepResult:
    step: str
    ok: bool
    detail: str
    duration_s: float

    def as_tuple(self) -> tuple[str, bool, str]:
        return self.step, self.ok, self.detail


async def _timed(runtime: AgentRuntime, step: str, action: Callable[[], Awaitable[str]]) -> StepResult:
    t0 = time.monotonic()
    try:
        detail, ok = await action(), True
    except (SharedAddressError, RoleMoved) as exc:
        detail, ok = str(exc), False
    result = StepResult(step, ok, detail, round(time.monotonic() - t0, 3))
    runtime.bus.publish(TakeoverStep(**asdict(result)))
    return result


async def _methods(runtime: AgentRuntime, event: Literal["takeover", "demotion"], reason: str) -> list[StepResult]:
    # Imported here: the takeover methods report this module's StepResult, so a top-level import would be a cycle.
    from pa_console.agent.takeover_methods.runner import run_takeover_methods

    return await run_takeover_methods(runtime, event, reason)


class RoleMoved(Exception):
    """The role or epoch changed between the decision to take over and the takeover itself."""


async def promote(runtime: AgentRuntime, site: SharedSite, reason: str, at_least_epoch: int = 0,
                  planned: bool = False, how: TakeoverHow | None = None,
                  expected_epoch: int | None = None) -> tuple[int, list[StepResult]]:
    """Become primary: role first (so the site answers 'primary'), then the shared address.

    With `expected_epoch`, only if this appliance is still the backup at that epoch (checked in the role's own
    transaction); raises RoleMoved otherwise. The sync in flight is cancelled first: nothing pulled from the old
    primary may be applied once this appliance is primary (the apply also checks role and epoch itself)."""
    epoch = 0
    engine = runtime.sync_engine
    if engine is not None:
        await engine.cancel("a takeover")

    async def role_step() -> str:
        nonlocal epoch
        if expected_epoch is None:
            epoch = change_role(runtime, Role.PRIMARY, reason, at_least_epoch)
        else:
            moved = authority.promote_if(runtime, expected_epoch, reason, at_least_epoch)
            if moved is None:
                raise RoleMoved(f"the role changed meanwhile (now {runtime.role} at epoch {runtime.epoch})")
            epoch = moved
        return f"{runtime.name} is primary at epoch {epoch}"

    steps = [await _timed(runtime, "role", role_step)]
    if not steps[0].ok:
        raise RoleMoved(steps[0].detail)
    if runtime.settings.shared_address is not None:
        steps.append(await _timed(runtime, "shared_address", site.serve))
    steps += await _methods(runtime, "takeover", reason)  # DNS swing, NAT swing (issue 9)
    runtime.bus.publish(Takeover(role=Role.PRIMARY.value, epoch=epoch, reason=reason, planned=planned,
                                 ok=all(s.ok for s in steps), steps=[TakeoverStepSummary(**asdict(s)) for s in steps],
                                 how=how or ("planned" if planned else None)))
    return epoch, steps


async def demote(runtime: AgentRuntime, site: SharedSite, reason: str, at_least_epoch: int = 0,
                 peer: str = "the peer") -> authority.Fence:
    """Become backup, fence first: one short transaction (role, epoch, fence: writes are refused from then on),
    then the shared address is released, and only then the slow steps (takeover methods). What diverged is kept
    aside afterwards by the failover service, which lifts the fence when it is kept."""
    record = await asyncio.to_thread(authority.fence, runtime, peer, at_least_epoch, reason)
    try:
        await site.withdraw()
    except SharedAddressError as exc:
        runtime.bus.publish(TakeoverStep(step="release_shared_address", ok=False, detail=str(exc), event="demotion"))
    await _methods(runtime, "demotion", reason)  # the takeover methods in reverse order (issue 9)
    return record
