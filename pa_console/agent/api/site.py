from __future__ import annotations

from fastapi import APIRouter

from pa_console.agent.auth import Admin, Runtime
from pa_console.agent.errors import AgentError
from pa_console.agent.scrub.damage import site_digest
from pa_console.protocol.models import SiteDigest
from pa_console.protocol.verify import VerifyStartResult, VerifyState

router = APIRouter(prefix="/site", dependencies=[Admin])


@router.get("/digest", response_model=SiteDigest)
def digest(runtime: Runtime) -> SiteDigest:
    # The digest of the recorded hashes, minus what the last scrub found damaged (see scrub/damage.py).
    return site_digest(runtime.db.connect())


@router.post("/verify", response_model=VerifyStartResult, status_code=202)
async def verify(runtime: Runtime) -> VerifyStartResult:
    """Start a scrub (or answer with the running one's id); progress and result come as verify_* events."""
    if runtime.scrub is None:
        raise AgentError(409, "This agent runs no scrub service; run 'pa-agent verify DATA_DIR' instead.")
    result: VerifyStartResult = runtime.scrub.start_scrub("api")
    return result


@router.get("/verify", response_model=VerifyState)
def verify_state(runtime: Runtime) -> VerifyState:
    if runtime.scrub is None:
        return VerifyState()
    state: VerifyState = runtime.scrub.state()
    return state
