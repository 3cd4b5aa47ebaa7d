"""Agent-to-agent endpoints of failover (issue #4): the peer's half of a planned swap."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from pa_console.agent.api.peer import MAX_EPOCH
from pa_console.agent.auth import Runtime
from pa_console.agent.failover import manual
from pa_console.agent.failover.service import FailoverService
from pa_console.agent.peer.auth import PeerAuth

router = APIRouter(prefix="/peer/failover", dependencies=[PeerAuth])


class StepDown(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requested_by: str = Field(max_length=200)
    # What the backup holds of this primary's store (its last applied sync): what is above it diverged.
    store_id: str | None = Field(default=None, max_length=64)
    seq: int | None = Field(default=None, ge=0, le=2**63 - 1)  # SQLite's largest integer


class BecomePrimary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requested_by: str = Field(max_length=200)
    epoch: int = Field(ge=0, le=MAX_EPOCH)  # the promotion stores epoch + 1


@router.post("/step-down")
async def step_down(body: StepDown, runtime: Runtime) -> dict[str, Any]:
    """The backup takes over in a planned swap: the primary stops serving and becomes the backup first."""
    return await manual.step_down_for_peer(FailoverService.of(runtime), body.requested_by, body.store_id, body.seq)


@router.post("/become-primary")
async def become_primary(body: BecomePrimary, runtime: Runtime) -> dict[str, Any]:
    """The primary (already stepped down, at `epoch`) hands over: become the primary above its epoch."""
    return await manual.become_primary_for_peer(FailoverService.of(runtime), body.requested_by, body.epoch)


@router.post("/last-sync")
async def last_sync(runtime: Runtime) -> dict[str, Any]:
    """Before a swap asked on the primary: pull a last sync now and answer when it is complete."""
    return await manual.last_sync_for_peer(FailoverService.of(runtime))
