"""Manual failover (the console's button and POST /api/v1/failover/role), and the peer's half of it.

The order always avoids two primaries: the primary steps down (stops serving the shared address) first, then the
other side is promoted at a higher epoch. A failure between the two leaves no primary for a moment, never two,
and the side that asked puts things back as they were.

One role change asked at a time per appliance (`FailoverService.role_change_asked`): a second request while one runs
is refused at once. Two consoles asking opposite swaps of the two appliances at the same moment each held its own
transition lock while waiting for the other's: both waited 30 s, and the primary then answered "stayed the primary"
although it had become the backup. Now the peer's half refuses at once while a change asked on its own side runs,
and the side that asked takes that refusal as final (nothing changed), never as a step-down whose answer was lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pa_console.agent.errors import AgentError
from pa_console.agent.failover.authority import record_confirmed
from pa_console.agent.failover.service import FailoverService
from pa_console.agent.failover.takeover import StepResult, promote
from pa_console.agent.peer.client import PeerClient, PeerError
from pa_console.protocol.models import Role, RoleRequest, RoleResult, SyncStatus

PING_TIMEOUT_S = 3.0
SYNC_TIMEOUT_S = 6 * 3600.0  # a last sync of a large site can take long; the swap waits for it


def _steps_text(steps: list[StepResult]) -> str:
    failed = [s for s in steps if not s.ok]
    return "" if not failed else " Problems: " + " ".join(f"{s.step}: {s.detail}" for s in failed)


@contextmanager
def _asked(service: FailoverService) -> Iterator[None]:
    """Mark a role change asked on this appliance as running; refuse a second one (checked and set in one step of
    the event loop: no await between)."""
    if service.role_change_asked:
        raise AgentError(409, f"A role change asked earlier is still under way on {service.runtime.name}; wait for "
                              "its answer, then check the role (GET /api/v1/failover/health) before asking again.",
                         "busy")
    service.role_change_asked = True
    try:
        yield
    finally:
        service.role_change_asked = False


def _refuse_if_asking(service: FailoverService) -> None:
    """The peer's half: a swap asked on this appliance is running, so the peer's opposite request must not wait
    for it (each side would hold its own lock while waiting for the other's)."""
    if service.role_change_asked:
        raise AgentError(409, f"{service.runtime.name} is itself in the middle of a role change asked on it; "
                              "nothing was changed. Wait for that change to finish, then ask again.", "busy")


async def request_role(service: FailoverService, req: RoleRequest) -> RoleResult:
    with _asked(service):
        return await _request_role(service, req)


async def _request_role(service: FailoverService, req: RoleRequest) -> RoleResult:
    runtime = service.runtime
    wanted = Role(req.role)
    rel = runtime.relationship
    if rel is None or runtime.role == Role.STANDALONE:
        raise AgentError(409, "This appliance is in no failover relationship; establish one before failing over.")
    if runtime.role == wanted:
        return RoleResult(role=runtime.role, epoch=runtime.epoch, detail=f"{runtime.name} already is the {wanted}.")
    client = PeerClient.for_runtime(runtime)
    peer = rel.peer_name
    try:
        answer: dict[str, Any] | None = await client.ping(timeout=PING_TIMEOUT_S)
        unreachable = ""
    except PeerError as exc:
        answer, unreachable = None, str(exc)
    if answer is None and not req.force:
        what = "a planned swap needs it" if wanted == Role.PRIMARY else "it must be asked to become the primary"
        raise AgentError(409, f"The peer {peer} cannot be reached ({unreachable.rstrip('.')}), and {what}. "
                              "Repeat with force to change this appliance's role alone.", "peer")
    if wanted == Role.PRIMARY:
        if answer is None:
            return await _forced_takeover(service, peer)
        complete, copy = runtime.copy_state()
        if not complete and not req.sync_first and not req.force:
            raise AgentError(409, f"{copy} Swap with sync_first (a last sync makes the copy complete first), or "
                                  "repeat with force to swap anyway.", "sync")
        return await _planned_takeover(service, client, peer, answer, req.sync_first)
    if answer is None:
        return await _forced_step_down(service, peer)
    if answer.get("copy_complete") is False and not req.sync_first and not req.force \
            and answer.get("site_sha256") != await asyncio.to_thread(runtime.site.digest_sha256):
        # Asked on the primary, the same rule as asked on the backup: a backup without a complete copy would serve
        # an empty or partial site (a never-synced backup became primary with 0 of 50 sessions). A backup that
        # holds exactly this appliance's site data (the old primary, just after a swap) may take it back.
        detail = str(answer.get("copy_detail") or "It holds no complete copy of the site data.")
        raise AgentError(409, f"The backup {peer} answers: {detail} Swap with sync_first (a last sync makes the "
                              "copy complete first), or repeat with force to swap anyway; nothing was changed.",
                         "sync")
    return await _planned_step_down(service, client, peer, req.sync_first)


async def _last_sync(service: FailoverService) -> str:
    engine = service.runtime.sync_engine
    if engine is None:
        raise AgentError(409, "This appliance has no sync engine; swap without sync_first.")
    report = await engine.run_once("before a planned swap")
    if report.status != SyncStatus.OK:
        raise AgentError(409, f"The last sync before the swap failed ({report.error or 'see the events'}); "
                              "nothing was changed. Retry, or swap without sync_first.", "sync")
    return f" A last sync moved {report.rows_moved} rows and {report.bytes_moved} bytes first."


async def _planned_takeover(service: FailoverService, client: PeerClient, peer: str, answer: dict[str, Any],
                            sync_first: bool) -> RoleResult:
    runtime = service.runtime
    synced = await _last_sync(service) if sync_first else ""
    async with service.transition:
        if (already := _meanwhile(service, Role.PRIMARY)) is not None:
            return already
        try:
            holds = runtime.local.get("sync_state") or {}
            stepped = await client.request("POST", "/peer/failover/step-down", json={
                "requested_by": runtime.name, "store_id": holds.get("store_id"), "seq": holds.get("seq")},
                timeout=30)
            peer_epoch: int | None = int(stepped["epoch"])
        except PeerError as exc:
            # A 4xx is the peer's definite "no" (it is busy with a change of its own, or not the primary): nothing
            # happened there. Only a lost answer (no status, or a 5xx) may hide a step-down that did happen.
            if exc.status is not None and exc.status < 500:
                raise AgentError(409, f"The primary {peer} refused to step down ({exc}); nothing was changed here.",
                                 "peer") from exc
            peer_epoch = await _stepped_down_anyway(client)
            if peer_epoch is None:
                raise AgentError(502, f"The primary {peer} did not step down ({exc}); nothing was changed here.",
                                 "peer") from exc
        epoch, steps = await promote(runtime, service.site, f"planned swap: {peer} stepped down",
                                     max(peer_epoch or 0, int(answer.get("epoch", 0))) + 1, planned=True)
    return RoleResult(role=Role.PRIMARY, epoch=epoch,
                      detail=f"Planned swap done: {runtime.name} is the primary, {peer} the backup.{synced}"
                             f"{_steps_text(steps)}")


async def _stepped_down_anyway(client: PeerClient) -> int | None:
    """The step-down's answer was lost: did it happen? (If so, go on: else there would be no primary at all.)"""
    try:
        answer = await client.ping(timeout=PING_TIMEOUT_S)
    except PeerError:
        return None
    return int(answer.get("epoch", 0)) if answer.get("role") == Role.BACKUP.value else None


def site_holds(service: FailoverService, copy_state: tuple[bool, str]) -> str:
    """What the site serves once this appliance is primary, in a sentence (said by a forced takeover).

    `copy_state` is the backup's copy as read *before* the promotion: a promoted appliance forgets its sync position
    (its store takes writes of its own from then on), so read after it, every copy looked like "never synced"."""
    runtime = service.runtime
    complete, copy = copy_state
    digest = runtime.site.digest()
    holds = (f"The site now holds this appliance's copy: {digest.sessions} sessions, {digest.recordings} "
             f"recordings, {digest.users} users.")
    if complete:
        return f"{holds} {copy.replace('This backup holds', 'It was')}"
    return f"{holds} WARNING: {copy}"


def _meanwhile(service: FailoverService, wanted: Role) -> RoleResult | None:
    """Inside `transition`: the role this request asks for came about while it waited (an automatic takeover, a
    fence, the peer's swap). Promoting again would raise the epoch twice and report a second takeover."""
    runtime = service.runtime
    role, epoch = runtime.role_epoch()
    if role != wanted:
        return None
    return RoleResult(role=role, epoch=epoch, detail=f"{runtime.name} became the {role.value} while this request "
                                                     f"waited (now at epoch {epoch}); nothing more was done.")


async def _forced_takeover(service: FailoverService, peer: str) -> RoleResult:
    runtime = service.runtime
    async with service.transition:
        if (already := _meanwhile(service, Role.PRIMARY)) is not None:
            return already
        copy_state = await asyncio.to_thread(runtime.copy_state)  # what this backup held, before it is primary
        epoch, steps = await promote(runtime, service.site, f"forced takeover: {peer} unreachable",
                                     service.monitor.peer_epoch + 1, how="forced")
    holds = await asyncio.to_thread(site_holds, service, copy_state)
    return RoleResult(role=Role.PRIMARY, epoch=epoch,
                      detail=f"{runtime.name} took over alone as primary; {peer} was unreachable. {holds} If {peer} "
                             "returns as primary, it will fence itself and keep aside what it wrote that this "
                             f"appliance never received.{_steps_text(steps)}")


async def _planned_step_down(service: FailoverService, client: PeerClient, peer: str,
                             sync_first: bool) -> RoleResult:
    runtime = service.runtime
    synced = ""
    if sync_first:
        try:
            report = await client.request("POST", "/peer/failover/last-sync", timeout=SYNC_TIMEOUT_S)
        except PeerError as exc:
            raise AgentError(409 if exc.status == 409 else 502, f"The last sync before the swap failed ({exc}); "
                             "nothing was changed.", "sync") from exc
        synced = f" The backup pulled a last sync first ({report.get('rows_moved', 0)} rows)."
        if report.get("primary_store") and report.get("primary_seq") is not None:
            # What the backup now holds: what this appliance wrote up to there did not diverge.
            await asyncio.to_thread(record_confirmed, runtime, str(report["primary_store"]),
                                    int(report["primary_seq"]))
    async with service.transition:
        if (already := _meanwhile(service, Role.BACKUP)) is not None:
            return already
        epoch = (await service.step_down(f"planned swap: {peer} becomes the primary")).epoch
        try:
            await client.request("POST", "/peer/failover/become-primary",
                                 json={"requested_by": runtime.name, "epoch": epoch}, timeout=30)
        except PeerError as exc:
            # Undo: rather this appliance primary again than no primary at all.
            epoch, _ = await promote(runtime, service.site, f"swap undone: {peer} could not become the primary")
            raise AgentError(502, f"{peer} could not become the primary ({exc}); {runtime.name} stayed the "
                                  "primary.", "peer") from exc
    return RoleResult(role=Role.BACKUP, epoch=runtime.epoch,
                      detail=f"Planned swap done: {peer} is the primary, {runtime.name} the backup.{synced}")


async def _forced_step_down(service: FailoverService, peer: str) -> RoleResult:
    runtime = service.runtime
    async with service.transition:
        if (already := _meanwhile(service, Role.BACKUP)) is not None:
            return already
        epoch = (await service.step_down(f"forced step-down: {peer} unreachable")).epoch
    return RoleResult(role=Role.BACKUP, epoch=epoch,
                      detail=f"{runtime.name} is now a backup and stopped serving the shared address; {peer} "
                             "could not be told, so no appliance is primary until one is made primary.")


# -- the peer's half ---------------------------------------------------------------------------------------------
async def step_down_for_peer(service: FailoverService, requested_by: str, store_id: str | None = None,
                             seq: int | None = None) -> dict[str, Any]:
    runtime = service.runtime
    _refuse_if_asking(service)
    if store_id and seq is not None:
        await asyncio.to_thread(record_confirmed, runtime, store_id, seq)  # ignored if it is another store's
    async with service.transition:
        if runtime.role == Role.BACKUP:
            return {"epoch": runtime.epoch, "role": Role.BACKUP.value, "detail": "already the backup"}
        if runtime.role != Role.PRIMARY:
            raise AgentError(409, f"{runtime.name} is not the primary.")
        epoch = (await service.step_down(f"planned swap requested by {requested_by}", peer=requested_by)).epoch
    return {"epoch": epoch, "role": Role.BACKUP.value, "detail": f"{runtime.name} is now the backup"}


async def become_primary_for_peer(service: FailoverService, requested_by: str, peer_epoch: int) -> dict[str, Any]:
    runtime = service.runtime
    _refuse_if_asking(service)
    async with service.transition:
        if runtime.role == Role.PRIMARY:
            return {"epoch": runtime.epoch, "role": Role.PRIMARY.value, "steps": []}
        if runtime.role != Role.BACKUP:
            raise AgentError(409, f"{runtime.name} is not the backup.")
        epoch, steps = await promote(runtime, service.site, f"planned swap requested by {requested_by}",
                                     peer_epoch + 1, planned=True)
    return {"epoch": epoch, "role": Role.PRIMARY.value, "steps": [s.as_tuple() for s in steps]}


async def last_sync_for_peer(service: FailoverService) -> dict[str, Any]:
    if service.runtime.role != Role.BACKUP:
        raise AgentError(409, f"{service.runtime.name} is not the backup.")
    engine = service.runtime.sync_engine
    if engine is None:
        raise AgentError(409, "This appliance has no sync engine.")
    report = await engine.run_once("before a planned swap")
    if report.status != SyncStatus.OK:
        raise AgentError(409, f"the backup's sync failed: {report.error or 'see its events'}", "sync")
    result: dict[str, Any] = report.model_dump(mode="json")
    return result
