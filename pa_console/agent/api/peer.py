"""Agent-to-agent endpoints: the establishing handshake, liveness, and the pull feed."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pa_console.agent.api.blob_response import BlobResponse
from pa_console.agent.auth import Runtime
from pa_console.agent.errors import AgentError
from pa_console.agent.failover.authority import record_confirmed
from pa_console.agent.failover.record import Peer
from pa_console.agent.failover.service import FailoverService
from pa_console.agent.identity import cert_fingerprint
from pa_console.agent.peer import handshake
from pa_console.agent.peer.auth import PeerAuth
from pa_console.agent.peer.client import PeerClient, PeerError
from pa_console.agent.relationship import KEYS_DIFFER, break_locally, changing, record
from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.sync import feed
from pa_console.protocol.constants import PRODUCT_VERSION, SCHEMA_VERSION
from pa_console.protocol.events import SyncFailed, SyncFinished
from pa_console.protocol.models import Endpoint, Role, SyncReport, SyncStatus

router = APIRouter(prefix="/peer")
_MAX_INT = 2**63 - 1  # SQLite's largest integer: a larger number would raise OverflowError deep in the store
# Epochs a peer may tell: room above for every role change to add one (a peer's epoch + 1 is stored).
MAX_EPOCH = 2**62
# A recording's id (32 hex digits today) and the chunk a pull resumes at: bounded, so that a negative or huge start
# cannot plan a stream of chunks that do not exist (it promised 1.3 MB, then failed mid-body with EINVAL, or 500).
MAX_RECORDING_ID = 64
MAX_CHUNK_INDEX = 2**40


class Hello(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nonce_p: str = Field(min_length=32, max_length=128)
    primary_name: str = Field(min_length=1, max_length=200)
    version: str = Field(max_length=50)
    schema_version: int = Field(ge=0, le=1_000_000)
    primary_cert_pem: str = Field(max_length=20_000)
    reverse: Endpoint
    epoch: int = Field(ge=0, le=MAX_EPOCH)


    @field_validator("primary_name")
    @classmethod
    def _name(cls, value: str) -> str:
        # The name goes into mails (subjects), logs and the console: no control characters, no line breaks.
        if not value.isprintable():
            raise ValueError("must be printable (no control characters)")
        return value


class Confirm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nonce_b: str = Field(min_length=32, max_length=128)
    proof: str = Field(min_length=64, max_length=64)
    epoch: int = Field(ge=0, le=MAX_EPOCH)


@router.post("/hello")
def hello(body: Hello, runtime: Runtime) -> dict[str, Any]:
    """Authenticated by what it proves, not by a token: the caller learns only an HMAC over fresh nonces."""
    # Whether (and with whom) this appliance is paired is told only after the caller proved the key (at confirm).
    try:
        fp_p = cert_fingerprint(body.primary_cert_pem)
    except ValueError as exc:
        raise AgentError(400, "The primary's certificate could not be read.") from exc
    nonce_b = handshake.new_nonce()
    key = runtime.identity.ia_key()
    runtime.handshakes.add(nonce_b, {"nonce_p": body.nonce_p, "fp_p": fp_p, "cert_pem": body.primary_cert_pem,
                                     "reverse": body.reverse.model_dump(), "name": body.primary_name})
    return {"nonce_b": nonce_b, "name": runtime.name, "version": PRODUCT_VERSION, "schema_version": SCHEMA_VERSION,
            "epoch": runtime.epoch,
            "proof": handshake.backup_proof(key, body.nonce_p, nonce_b, fp_p, runtime.identity.fingerprint)}


@router.post("/confirm")
async def confirm(body: Confirm, runtime: Runtime) -> dict[str, Any]:
    pending = runtime.handshakes.take(body.nonce_b)
    if pending is None:
        raise AgentError(403, "The handshake expired or was already used; establish the relationship again.")
    key = runtime.identity.ia_key()
    expected = handshake.primary_proof(key, pending["nonce_p"], body.nonce_b, pending["fp_p"],
                                       runtime.identity.fingerprint)
    if not handshake.same(body.proof, expected):
        raise AgentError(403, KEYS_DIFFER, "key")
    with changing(runtime, asked_here=False):
        return await _confirm(runtime, body, key, pending)


async def _confirm(runtime: AgentRuntime, body: Confirm, key: bytes, pending: dict[str, Any]) -> dict[str, Any]:
    if runtime.relationship is not None or runtime.role != Role.STANDALONE:
        raise AgentError(409, f"The backup appliance {runtime.name!r} is already in a failover relationship; break "
                              "that relationship on it first.")
    token = handshake.peer_token(key, pending["nonce_p"], body.nonce_b)
    reverse = pending["reverse"]
    try:
        await PeerClient(reverse["host"], reverse["port"], pending["cert_pem"], token,
                         what="the primary appliance").ping(timeout=5)
    except PeerError as exc:
        raise AgentError(409, f"The backup cannot reach the primary through the Reverse Connection Details "
                              f"({reverse['host']}:{reverse['port']}): {exc} Check those details.",
                         "reverse") from exc
    record(runtime, Role.BACKUP, body.epoch, Peer(
        peer_name=pending["name"], peer_host=reverse["host"], peer_port=reverse["port"],
        peer_cert_pem=pending["cert_pem"], peer_fingerprint=pending["fp_p"], peer_token=token),
        "relationship established")
    runtime.relationship_changed()
    return {"ok": True, "name": runtime.name}


@router.get("/ping", dependencies=[PeerAuth])
def ping(runtime: Runtime) -> dict[str, Any]:
    role, epoch = runtime.role_epoch()
    answer: dict[str, Any] = {"name": runtime.name, "role": role.value, "epoch": epoch, "version": PRODUCT_VERSION,
                              "store_id": feed.store_id(runtime.db.connect())}
    if role == Role.BACKUP:
        # Whether this backup's copy may become the site: a primary asked to swap reads it before stepping down.
        answer["copy_complete"], answer["copy_detail"] = runtime.copy_state()
        answer["site_sha256"] = runtime.site.digest_sha256()  # same data as the primary's, whatever the copy's age
    return answer


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    role: Role
    epoch: int = Field(ge=0, le=MAX_EPOCH)


@router.post("/heartbeat", dependencies=[PeerAuth])
def heartbeat(body: Heartbeat, runtime: Runtime) -> dict[str, Any]:
    """The primary says it lives (a backup whose own probes fail must not take over while these arrive), and
    learns this appliance's role and epoch in the answer (an old primary fences when the answer outranks it)."""
    if body.role == Role.PRIMARY:
        runtime.heartbeat_seen(body.epoch)
    role, epoch = runtime.role_epoch()
    if body.role == Role.PRIMARY and role == Role.PRIMARY and body.epoch > epoch:
        with contextlib.suppress(LookupError):  # an agent run without the failover service
            FailoverService.of(runtime).peer_says_primary(body.epoch)
    return {"name": runtime.name, "role": role.value, "epoch": epoch, "version": PRODUCT_VERSION}


@router.delete("/relationship", dependencies=[PeerAuth])
def peer_break(runtime: Runtime) -> dict[str, Any]:
    left = break_locally(runtime, "relationship broken by the peer appliance")
    return {"broken": True, "site_data_removed": left.data_removed}


@router.post("/sync", dependencies=[PeerAuth])
def peer_sync_now(runtime: Runtime) -> dict[str, Any]:
    scheduler = runtime.sync_scheduler
    if runtime.role != Role.BACKUP or scheduler is None:
        raise AgentError(409, "This appliance is not a backup.")
    if not runtime.settings.sync_enabled:
        raise AgentError(409, f"Synchronisation is turned off on the backup {runtime.name!r}; turn it on in its "
                              "backup settings first.")
    scheduler.sync_now()
    return {"started": True}


@router.post("/pulled", dependencies=[PeerAuth])
def peer_pulled(body: SyncReport, runtime: Runtime) -> dict[str, Any]:
    """The backup tells the primary how its pull went, so the primary's health and console show it too."""
    if body.primary_seq is not None and not 0 <= body.primary_seq <= _MAX_INT:
        raise AgentError(422, f"primary_seq must be a change number from 0 to {_MAX_INT}.")
    report = body.model_dump(mode="json")
    if body.status == SyncStatus.OK and body.primary_store and body.primary_seq is not None \
            and body.primary_store == feed.store_id(runtime.db.connect()):
        record_confirmed(runtime, body.primary_store, body.primary_seq)
    runtime.local.set("last_sync", report)
    if body.status == SyncStatus.OK:
        runtime.local.set("last_sync_ok_at", report["finished_at"])
    outcome = SyncFinished if body.status == SyncStatus.OK else SyncFailed
    runtime.bus.publish(outcome(**{**report, "reported_by": "backup"}))
    return {"ok": True}


@router.get("/changes", dependencies=[PeerAuth])
async def changes(runtime: Runtime, since: int = Query(ge=0, le=_MAX_INT), store: str = Query(max_length=64),
                  resume: str = Query(default="{}", max_length=10_000),
                  resume_store: str = Query(default="", max_length=64),
                  resume_base: int = Query(default=-1, ge=-1, le=_MAX_INT),
                  format: int = Query(default=1, ge=0, le=1000)) -> StreamingResponse:
    if runtime.role != Role.PRIMARY:
        raise AgentError(409, f"{runtime.name!r} is not the primary; it has no data to hand out.")
    if format != feed.FORMAT:
        raise AgentError(409, f"The backup runs another pa-agent version than the primary {runtime.name!r} "
                              f"({PRODUCT_VERSION}); run the same version on both appliances.")
    try:
        points = {str(k): int(v) for k, v in orjson.loads(resume).items()}
        if any(not 0 <= v <= _MAX_INT for v in points.values()):
            raise ValueError("out of range")
    except (orjson.JSONDecodeError, AttributeError, ValueError, TypeError) as exc:
        raise AgentError(422, "resume must be a JSON object of change numbers.") from exc
    own = await asyncio.to_thread(feed.store_id, runtime.db.connect())
    if store == own and since > 0:
        # Asking for what follows `since` of this store: the backup holds everything up to it.
        await asyncio.to_thread(record_confirmed, runtime, own, since)
    if runtime.no_pull_alert is not None:
        await runtime.no_pull_alert.pulled()
    return StreamingResponse(feed.changes(runtime.db.path, own, since, store, points, resume_store, resume_base),
                             media_type="application/x-ndjson")


class BlobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[tuple[Annotated[str, Field(min_length=1, max_length=MAX_RECORDING_ID)],
                      Annotated[int, Field(ge=0, le=MAX_CHUNK_INDEX)]]] = Field(max_length=100_000)


@router.post("/blobs", dependencies=[PeerAuth])
def blobs(body: BlobRequest, runtime: Runtime) -> BlobResponse:
    if runtime.role != Role.PRIMARY:
        raise AgentError(409, f"{runtime.name!r} is not the primary; it has no data to hand out.")
    return BlobResponse(runtime.db.path, body.items)
