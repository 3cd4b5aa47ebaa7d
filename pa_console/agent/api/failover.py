"""The failover relationship and Sync Now (issue #3)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from pa_console.agent import relationship
from pa_console.agent.auth import Admin, Runtime
from pa_console.agent.errors import AgentError
from pa_console.agent.peer.client import PeerClient, PeerError
from pa_console.protocol.models import RelationshipInfo, RelationshipRequest, Role, SyncStartResult

router = APIRouter(prefix="/failover", dependencies=[Admin])


@router.post("/relationship", response_model=RelationshipInfo, status_code=201)
async def establish(body: RelationshipRequest, runtime: Runtime) -> RelationshipInfo:
    return await relationship.establish(runtime, body)


@router.get("/relationship", response_model=RelationshipInfo)
def get_relationship(runtime: Runtime) -> RelationshipInfo:
    return relationship.info(runtime)


@router.delete("/relationship")
async def break_relationship(runtime: Runtime) -> dict[str, Any]:
    return await relationship.break_relationship(runtime)


@router.post("/sync", response_model=SyncStartResult, status_code=202)
async def sync_now(runtime: Runtime, response: Response) -> SyncStartResult:
    if runtime.relationship is None:
        raise AgentError(409, "This appliance is in no failover relationship; establish one first.")
    if runtime.role == Role.PRIMARY:
        try:
            await PeerClient.for_runtime(runtime).request("POST", "/peer/sync", timeout=10)
        except PeerError as exc:
            raise AgentError(409, str(exc), "peer") from exc
        return SyncStartResult(started=True, detail="The backup was asked to pull now.")
    if not runtime.settings.sync_enabled:
        raise AgentError(409, "Synchronisation is turned off on this backup; turn it on in the backup settings "
                              "first.")
    engine = runtime.sync_engine
    if engine is not None and engine.running:
        return SyncStartResult(started=False, detail="A sync is already running; watch its progress in the events.")
    assert runtime.sync_scheduler is not None
    runtime.sync_scheduler.sync_now()
    return SyncStartResult(started=True, detail="Sync started.")
