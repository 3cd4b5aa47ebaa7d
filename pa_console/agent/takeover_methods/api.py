"""POST /api/v1/failover/methods/check: the readiness of every takeover method, by dry run (nothing changes).

The console's backup settings show it beside each method; the same checks decide whether an automatic takeover
may happen (failover/monitor.py, through runner.methods_blocker)."""

from __future__ import annotations

from fastapi import APIRouter

from pa_console.agent.auth import Admin, Runtime
from pa_console.agent.failover.service import FailoverService
from pa_console.agent.takeover_methods.runner import check_methods
from pa_console.protocol.models import TakeoverMethodCheck

router = APIRouter(prefix="/failover", dependencies=[Admin])


@router.post("/methods/check", response_model=list[TakeoverMethodCheck])
async def check(runtime: Runtime) -> list[TakeoverMethodCheck]:
    shared = runtime.settings.shared_address
    if shared is None:
        checks = [TakeoverMethodCheck(method="shared_address", configured=False, ready=False,
                                      detail="not configured")]
    else:
        try:
            problem = await FailoverService.of(runtime).site.ineligible(shared)
        except LookupError:  # an agent built without its background services (some tests)
            problem = "the failover service is not running on this appliance"
        checks = [TakeoverMethodCheck(method="shared_address", configured=True, ready=problem is None,
                                      detail=problem or f"ready: {shared.address} port {shared.port} "
                                                        f"({shared.driver})")]
    return checks + await check_methods(runtime)
