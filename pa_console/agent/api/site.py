from __future__ import annotations

from fastapi import APIRouter

from pa_console.agent.auth import Admin, Runtime
from pa_console.protocol.models import SiteDigest

router = APIRouter(prefix="/site", dependencies=[Admin])


@router.get("/digest", response_model=SiteDigest)
def digest(runtime: Runtime) -> SiteDigest:
    return runtime.site.digest()
