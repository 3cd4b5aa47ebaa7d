"""Manual failover and the failover API for automation (issue #4): POST /failover/role."""

from __future__ import annotations

from fastapi import APIRouter

from pa_console.agent.auth import Admin, Runtime
from pa_console.agent.failover.manual import request_role
from pa_console.agent.failover.service import FailoverService
from pa_console.protocol.models import RoleRequest, RoleResult

router = APIRouter(prefix="/failover", dependencies=[Admin])


@router.post("/role", response_model=RoleResult)
async def set_role(body: RoleRequest, runtime: Runtime) -> RoleResult:
    return await request_role(FailoverService.of(runtime), body)
