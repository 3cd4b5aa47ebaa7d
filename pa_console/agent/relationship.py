"""Establishing and breaking the failover relationship (both sides)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pa_console.agent.errors import AgentError
from pa_console.agent.failover import authority
from pa_console.agent.failover.record import Peer, RelationshipRecord
from pa_console.agent.identity import cert_fingerprint
from pa_console.agent.peer import handshake
from pa_console.agent.peer.client import PeerClient, PeerError
from pa_console.agent.peer.tls import PeerUnreachable, fetch_certificate
from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.sync.staging import wipe_site_data
from pa_console.protocol.constants import PRODUCT_VERSION, SCHEMA_VERSION
from pa_console.protocol.events import RelationshipBroken, RelationshipEstablished, RoleChanged
from pa_console.protocol.models import RelationshipInfo, RelationshipRequest, Role

log = logging.getLogger(__name__)

KEYS_DIFFER = ("The Inter-Appliance keys of the two appliances differ; compare their fingerprints on the Security "
               "page of both appliances and set the same key on both.")


@contextmanager
def changing(runtime: AgentRuntime, *, asked_here: bool) -> Iterator[None]:
    """One relationship change at a time on an appliance. Two administrators establishing in opposite directions at
    once left one appliance "primary, paired" with a peer that was standalone (its own establish, undone, removed the
    relationship its confirm handler had just recorded): two active sites. Now the second change, here or the
    peer's half of one, is refused at once, and each side undoes only its own."""
    if runtime.relationship_changing:
        if asked_here:
            raise AgentError(409, f"A relationship change asked earlier is still under way on {runtime.name}; wait "
                                  "for its answer, then check GET /api/v1/failover/relationship before asking again.",
                             "busy")
        raise AgentError(409, f"{runtime.name} is itself establishing or breaking a failover relationship; nothing "
                              "was changed. Wait for that to finish, then try again.", "busy")
    runtime.relationship_changing = True
    try:
        yield
    finally:
        runtime.relationship_changing = False


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def write(runtime: AgentRuntime, role: Role, epoch: int, peer: Peer) -> None:
    """Write the relationship, role and epoch in one transaction: never a relationship without its role."""
    authority.record_relationship(runtime, epoch, RelationshipRecord.new(role, peer))


def announce(runtime: AgentRuntime, role: Role, epoch: int, peer: Peer, reason: str) -> None:
    runtime.bus.publish(RoleChanged(role=role.value, epoch=epoch, reason=reason))
    runtime.bus.publish(RelationshipEstablished(role=role.value, peer=peer.peer_name, peer_host=peer.peer_host,
                                                peer_port=peer.peer_port, peer_fingerprint=peer.peer_fingerprint))


def record(runtime: AgentRuntime, role: Role, epoch: int, peer: Peer, reason: str) -> None:
    write(runtime, role, epoch, peer)
    announce(runtime, role, epoch, peer, reason)


def info(runtime: AgentRuntime, detail: str | None = None) -> RelationshipInfo:
    rel = runtime.relationship
    if rel is None:
        raise AgentError(404, "This appliance is in no failover relationship.")
    return RelationshipInfo(role=rel.role, established_at=rel.established_at, peer=rel.summary(), detail=detail)


async def establish(runtime: AgentRuntime, req: RelationshipRequest) -> RelationshipInfo:
    """On the intended primary: prove the keys match both ways, check versions, then both sides record."""
    with changing(runtime, asked_here=True):
        return await _establish(runtime, req)


async def _establish(runtime: AgentRuntime, req: RelationshipRequest) -> RelationshipInfo:
    if runtime.relationship is not None:
        raise AgentError(409, "This appliance is already in a failover relationship; break it first "
                              "(Break Failover Relationships) to make a new one.")
    if runtime.role == Role.BACKUP:
        raise AgentError(409, "This appliance is a backup; establish the relationship on the primary.")
    backup = req.backup
    if runtime.listen and backup.port == _own_port(runtime) and backup.host in ("127.0.0.1", "localhost", "::1"):
        raise AgentError(400, "The backup details point at this very appliance; enter the backup appliance's "
                              "address and port.", "request")
    try:
        backup_pem = await fetch_certificate(backup.host, backup.port, "the backup appliance")
    except PeerUnreachable as exc:
        raise AgentError(409, str(exc), "connection") from exc
    fp_b = cert_fingerprint(backup_pem)
    fp_p = runtime.identity.fingerprint
    if fp_b == fp_p:
        raise AgentError(400, "The backup details point at this very appliance; enter the backup appliance's "
                              "address and port.", "request")
    key = runtime.identity.ia_key()
    nonce_p = handshake.new_nonce()
    client = PeerClient(backup.host, backup.port, backup_pem, None, what="the backup appliance")
    try:
        hello = await client.request("POST", "/peer/hello", json={
            "nonce_p": nonce_p, "primary_name": runtime.name, "version": PRODUCT_VERSION,
            "schema_version": SCHEMA_VERSION, "primary_cert_pem": runtime.identity.cert_pem,
            "reverse": req.reverse.model_dump(), "epoch": runtime.epoch})
    except PeerError as exc:
        raise AgentError(409, str(exc), "peer") from exc
    nonce_b = str(hello["nonce_b"])
    if not handshake.same(str(hello["proof"]), handshake.backup_proof(key, nonce_p, nonce_b, fp_p, fp_b)):
        raise AgentError(403, KEYS_DIFFER, "key")
    if hello.get("schema_version") != SCHEMA_VERSION or hello.get("version") != PRODUCT_VERSION:
        raise AgentError(409, f"The appliances run different versions (this one {PRODUCT_VERSION} schema "
                              f"{SCHEMA_VERSION}, the backup {hello.get('version')} schema "
                              f"{hello.get('schema_version')}); upgrade them to the same version first.", "version")
    token = handshake.peer_token(key, nonce_p, nonce_b)
    previous_epoch = runtime.epoch
    epoch = max(previous_epoch, int(hello.get("epoch", 0))) + 1
    peer = Peer(peer_name=str(hello.get("name", "backup")), peer_host=backup.host, peer_port=backup.port,
                peer_cert_pem=backup_pem, peer_fingerprint=fp_b, peer_token=token, reverse_host=req.reverse.host,
                reverse_port=req.reverse.port)
    # This side is primary before the backup records its side: a backup whose first pull starts at once must
    # find a primary. Undone if the backup refuses.
    write(runtime, Role.PRIMARY, epoch, peer)
    try:
        await client.request("POST", "/peer/confirm", json={
            "nonce_b": nonce_b, "proof": handshake.primary_proof(key, nonce_p, nonce_b, fp_p, fp_b),
            "epoch": epoch}, timeout=30)
    except PeerError as exc:
        authority.undo_relationship(runtime, previous_epoch)
        raise AgentError(409, str(exc), "peer") from exc
    announce(runtime, Role.PRIMARY, epoch, peer, "relationship established")
    runtime.relationship_changed()
    return info(runtime)


def _own_port(runtime: AgentRuntime) -> int | None:
    if not runtime.listen:
        return None
    return int(runtime.listen.rsplit(":", 1)[1])


def break_locally(runtime: AgentRuntime, reason: str) -> authority.Left:
    """Return to standalone; a backup also removes the site data it had synchronised (a fenced one keeps it), and a
    primary keeps serving the shared address as a standalone appliance."""
    rel = runtime.relationship
    left = authority.leave_relationship(runtime, wipe_site_data)
    if left.data_removed:
        try:  # the wiped recordings' files (else at the next start)
            runtime.db.blobs.collect(runtime.db.connect(), grace_s=0)
        except (OSError, sqlite3.Error) as exc:
            log.warning("could not remove the recording files of the removed site data: %r", exc)
    runtime.bus.publish(RoleChanged(role=Role.STANDALONE.value, epoch=left.epoch, reason=reason))
    runtime.bus.publish(RelationshipBroken(peer=rel.peer_name if rel else None, reason=reason,
                                           site_data_removed=left.data_removed, was=left.was.value,
                                           fenced_data_kept=left.fenced, shared_address=address_fate(runtime, left)))
    runtime.relationship_changed()
    return left


def address_fate(runtime: AgentRuntime, left: authority.Left) -> str:
    """One sentence: what happens to the shared address on this appliance after the break."""
    shared = runtime.settings.shared_address
    if shared is None:
        return "No shared address is configured on this appliance."
    where = f"{shared.address}:{shared.port}"
    if left.was == Role.PRIMARY:
        return f"This appliance keeps serving the shared address {where} as a standalone appliance."
    return f"This appliance does not serve the shared address {where}."


async def break_relationship(runtime: AgentRuntime) -> dict[str, Any]:
    with changing(runtime, asked_here=True):
        return await _break_relationship(runtime)


async def _break_relationship(runtime: AgentRuntime) -> dict[str, Any]:
    rel = runtime.relationship
    if rel is None:
        raise AgentError(404, "This appliance is in no failover relationship; there is nothing to break.")
    peer_detail = ""
    try:
        await PeerClient.for_runtime(runtime).request("DELETE", "/peer/relationship", timeout=10)
        peer_ok = True
    except PeerError as exc:
        # 401: the peer no longer knows our token, i.e. it already left the relationship (broken there earlier).
        peer_ok = exc.status == 401
        peer_detail = str(exc)
    # Off the event loop: on a backup this deletes the whole synchronised copy (GiBs of recordings, maybe).
    left = await asyncio.to_thread(break_locally, runtime, "relationship broken by the administrator")
    detail = "The failover relationship is broken on both appliances."
    if left.data_removed:
        detail += " This appliance removed the site data it had synchronised."
    elif left.fenced:
        detail += (" This appliance was fenced: it kept all its site data, including what was written on it after "
                   "the split.")
    elif left.was == Role.PRIMARY:
        detail += " The backup removed the site data it had synchronised."
    if not peer_ok:
        detail = (f"The relationship is broken on this appliance, but {rel.peer_name!r} could not be told "
                  f"({peer_detail}); break it there too (Break Failover Relationships on that appliance).")
    fate = address_fate(runtime, left)
    return {"broken": True, "peer_informed": peer_ok, "detail": f"{detail} {fate}", "role": Role.STANDALONE.value,
            "shared_address": fate, "site_data_removed": left.data_removed}
