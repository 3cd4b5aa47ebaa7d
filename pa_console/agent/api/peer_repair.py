"""What a backup hands its primary when the primary's scrub found items damaged (scrub/from_backup.py).

The backup answers with its copy as it is, and proves nothing: the primary takes a row's values only if they hash
to the row hash it recorded when the row was written, and a recording's bytes only if they hash to the SHA-256 its
row names. Only a backup answers (its caller is its primary): a primary has nobody's copy to hand back."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from pa_console.agent.auth import Runtime
from pa_console.agent.errors import AgentError
from pa_console.agent.peer.auth import PeerAuth
from pa_console.agent.store import blobs
from pa_console.agent.store.rows import KINDS
from pa_console.protocol.models import Role

router = APIRouter(prefix="/peer/repair")
MAX_ROWS = 1000  # as many as a scrub keeps (scrub/damage.py)


class RowsWanted(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # [kind, change number]: the primary names rows by their change number, the same on both appliances and
    # readable even when the damage is in the row's key.
    rows: list[tuple[str, Annotated[int, Field(ge=0, le=2**63 - 1)]]] = Field(max_length=MAX_ROWS)


def _only_backup(runtime: Any) -> None:
    if runtime.role != Role.BACKUP:
        raise AgentError(409, f"{runtime.name!r} is not a backup; only a backup hands its copy to its primary.")


@router.post("/rows", dependencies=[PeerAuth])
async def rows(body: RowsWanted, runtime: Runtime) -> dict[str, Any]:
    """The named rows in this backup's copy ([kind, change number, [values...]]); rows it does not hold are left
    out."""
    _only_backup(runtime)
    unknown = sorted({kind for kind, _ in body.rows if kind not in KINDS})
    if unknown:
        raise AgentError(422, f"Unknown kind of site data {unknown[0]!r}; the kinds are {', '.join(KINDS)}.")
    return {"rows": await asyncio.to_thread(_read_rows, runtime, body.rows)}


def _read_rows(runtime: Any, wanted: list[tuple[str, int]]) -> list[list[Any]]:
    conn = runtime.db.connect()
    found: list[list[Any]] = []
    conn.execute("BEGIN")
    try:
        for kind, seq in wanted:
            try:
                row = conn.execute(f"SELECT {', '.join(KINDS[kind])} FROM {kind} WHERE seq = ?",  # noqa: S608  # nosec B608
                                   (seq,)).fetchone()
            except sqlite3.OperationalError:  # this copy's text is damaged too: nothing to hand out
                continue
            if row is not None:
                found.append([kind, seq, list(row)])
    finally:
        conn.execute("COMMIT")
    return found


@router.get("/recordings/{sha256}", dependencies=[PeerAuth])
def recording(runtime: Runtime, sha256: str = Path(min_length=64, max_length=64)) -> FileResponse:
    """A recording's file as this backup holds it, by its SHA-256."""
    _only_backup(runtime)
    if not blobs.valid_sha(sha256):
        raise AgentError(422, "A recording is named by its SHA-256: 64 lowercase hexadecimal digits.")
    store = blobs.for_path(runtime.db.path)
    if not store.has(sha256):
        raise AgentError(404, f"The backup {runtime.name!r} holds no recording with that SHA-256.")
    return FileResponse(store.path(sha256), media_type="application/octet-stream")
