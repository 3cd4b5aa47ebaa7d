from __future__ import annotations

from fastapi import APIRouter

from pa_console.agent.auth import Admin, Runtime
from pa_console.protocol.models import Health

router = APIRouter(prefix="/failover", dependencies=[Admin])


@router.get("/health", response_model=Health)
def health(runtime: Runtime) -> Health:
    return runtime.health()
