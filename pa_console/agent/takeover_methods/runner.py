"""Runs the configured takeover methods at a role change, each as a reported step; and their readiness.

Order: at takeover DNS swing then NAT swing (after the role and the shared address, which failover/takeover.py
does first); at demotion the reverse. A failed step never stops the next one: each is reported on its own, in
words, with its duration (EventType.TAKEOVER_STEP), and returned for the takeover event and mail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from pa_console.agent.failover.takeover import StepResult
from pa_console.agent.shared_ip.base import Endpoints
from pa_console.agent.shared_ip.site import listen_host
from pa_console.agent.takeover_methods.base import SwingContext, SwingEvent, TakeoverMethod, TakeoverMethodError
from pa_console.agent.takeover_methods.dns_swing import DnsSwingMethod
from pa_console.agent.takeover_methods.nat_swing import NatSwingMethod
from pa_console.agent.takeover_methods.write_only import tsig_secret
from pa_console.protocol.events import TakeoverStep
from pa_console.protocol.models import TakeoverMethodCheck

if TYPE_CHECKING:
    from pa_console.agent.runtime import AgentRuntime

log = logging.getLogger(__name__)


def context(runtime: AgentRuntime, reason: str = "") -> SwingContext:
    rel = runtime.relationship
    return SwingContext(own_name=runtime.name, peer_name=rel.peer_name if rel else None, reason=reason,
                        epoch=runtime.epoch)


def configured_methods(runtime: AgentRuntime, ctx: SwingContext | None = None) -> list[TakeoverMethod]:
    """The methods set in this appliance's failover settings, in takeover order."""
    settings = runtime.settings
    ctx = ctx or context(runtime)
    methods: list[TakeoverMethod] = []
    if settings.dns_swing is not None:
        methods.append(DnsSwingMethod(settings.dns_swing, tsig_secret(runtime), ctx))
    if settings.nat_swing is not None:
        methods.append(NatSwingMethod(settings.nat_swing, ctx))
    return methods


def endpoints(runtime: AgentRuntime) -> Endpoints:
    rel = runtime.relationship
    return Endpoints(own_host=listen_host(runtime.listen), peer_host=rel.peer_host if rel else None)


async def run_step(runtime: AgentRuntime, method: TakeoverMethod, event: SwingEvent) -> StepResult:
    """One method's acquire (takeover) or release (demotion), timed, never raising, published as a step."""
    t0 = time.monotonic()
    action = method.acquire if event == "takeover" else method.release
    try:
        detail, ok = await asyncio.wait_for(action(), method.time_limit_s), True
    except TakeoverMethodError as exc:
        detail, ok = str(exc), False
    except TimeoutError:
        detail, ok = f"{method.describe()} did not finish within {method.time_limit_s:g} s and was given up", False
    except Exception as exc:  # a bug in a method must not stop the other steps of a takeover
        log.exception("takeover method %s failed unexpectedly", method.name)
        detail, ok = f"{method.name} failed unexpectedly: {exc!r}", False
    result = StepResult(method.name, ok, detail, round(time.monotonic() - t0, 3))
    nat = method if isinstance(method, NatSwingMethod) else None
    runtime.bus.publish(TakeoverStep(step=result.step, method=method.name, event=event, ok=ok, detail=detail,
                                     duration_s=result.duration_s, exit_status=nat.last_exit_status if nat else None,
                                     output=nat.last_output if nat else None))
    return result


async def run_takeover_methods(runtime: AgentRuntime, event: SwingEvent, reason: str = "") -> list[StepResult]:
    """Run every configured method for a takeover (in order) or a demotion (in reverse order)."""
    methods = configured_methods(runtime, context(runtime, reason))
    if event == "demotion":
        methods.reverse()
    return [await run_step(runtime, method, event) for method in methods]


async def check_methods(runtime: AgentRuntime) -> list[TakeoverMethodCheck]:
    """The readiness of the DNS swing and NAT swing (configured or not), by dry run: nothing changes."""
    settings = runtime.settings
    by_name = {m.name: m for m in configured_methods(runtime)}
    checks: list[TakeoverMethodCheck] = []
    for name, configured in (("dns_swing", settings.dns_swing is not None),
                             ("nat_swing", settings.nat_swing is not None)):
        method = by_name.get(name)
        if method is None:
            checks.append(TakeoverMethodCheck(method=name, configured=False, ready=False, detail="not configured"))
            continue
        problem = await _ineligible(method, endpoints(runtime))
        checks.append(TakeoverMethodCheck(method=name, configured=configured, ready=problem is None,
                                          detail=problem or f"ready: {method.describe()}"))
    return checks


async def _ineligible(method: TakeoverMethod, where: Endpoints) -> str | None:
    try:
        return await asyncio.wait_for(method.ineligible(where), method.time_limit_s)
    except TimeoutError:
        return f"the readiness check of {method.describe()} did not finish within {method.time_limit_s:g} s"
    except TakeoverMethodError as exc:
        return str(exc).rstrip(".")


async def methods_blocker(runtime: AgentRuntime, shared_address_problem: str | None) -> str | None:
    """Why an automatic takeover cannot work, given the shared address's own answer (None when it can).

    Without a shared address, a DNS or NAT swing is enough to take over; whatever is configured must be ready."""
    methods = configured_methods(runtime)
    if runtime.settings.shared_address is not None:
        if shared_address_problem:
            return shared_address_problem
    elif not methods:
        return "no takeover method is configured (a shared address, a DNS swing or a NAT swing)"
    for method in methods:
        problem = await _ineligible(method, endpoints(runtime))
        if problem:
            return problem
    return None
