"""The one owner of role, epoch, relationship role and fence: each change is one transaction, then announced.

Fencing is the first thing an old primary does when it learns its peer is primary at a higher epoch: one short
transaction makes it a backup at (at least) the peer's epoch and records the fence. Site-data writes check role and
fence inside their own transaction (store.site.check_writable), so every write is ordered against the fence by
SQLite's write lock: committed before it (and then kept aside if the peer never confirmed it) or refused after it.
The fence stays until what diverged is kept aside; while it stays, no sync may overwrite the store.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import orjson

from pa_console.agent.failover.record import RelationshipRecord
from pa_console.agent.store.local import set_in
from pa_console.protocol.events import Fenced, RoleChanged
from pa_console.protocol.models import EventType, Role

if TYPE_CHECKING:
    from pa_console.agent.runtime import AgentRuntime

FENCE_KEY = "fence"
# On a primary: the last change of its store that the backup confirmed it had applied {"store_id", "seq"}.
CONFIRMED_KEY = "peer_confirmed"

FenceState = Literal["keeping_aside", "failed"]


@dataclass(frozen=True)
class Fence:
    peer: str
    peer_epoch: int
    previous_epoch: int
    epoch: int
    since_seq: int  # what the peer confirmed: what is above it diverged
    reason: str
    state: FenceState = "keeping_aside"
    error: str | None = None

    def sentence(self) -> str:
        if self.state == "failed":
            return (f"FENCED: {self.peer} is the primary at epoch {self.peer_epoch}, and this appliance could not "
                    f"keep aside the data written on it after change {self.since_seq} ({self.error}). It accepts no "
                    "writes and no sync overwrites it until that succeeds (retried every 30 s: free space in its "
                    "data folder) or an administrator breaks the relationship here, which keeps its data.")
        return (f"Fenced: {self.peer} is the primary at epoch {self.peer_epoch}; this appliance is keeping aside "
                f"what it wrote after change {self.since_seq} before it syncs from {self.peer}.")


def _local(conn: sqlite3.Connection, key: str) -> Any:
    row = conn.execute("SELECT value FROM local WHERE key = ?", (key,)).fetchone()
    return orjson.loads(row[0]) if row else None


def _epoch(conn: sqlite3.Connection) -> int:
    return int(_local(conn, "epoch") or 0)


def _set_role_in(conn: sqlite3.Connection, role: Role, epoch: int) -> None:
    set_in(conn, "role", role.value)
    set_in(conn, "epoch", epoch)
    if role == Role.PRIMARY:
        # From now on this store takes writes of its own: it is no longer a copy of the old primary's store at the
        # change it reached, so a later pull must not continue from there (it would merge onto another base).
        conn.execute("DELETE FROM local WHERE key IN ('sync_state', 'sync_staging')")
    rel = _local(conn, "relationship")
    if rel is not None:
        set_in(conn, "relationship", {**rel, "role": role.value})


def change_role(runtime: AgentRuntime, role: Role, reason: str, at_least_epoch: int = 0, **extra: object) -> int:
    """Raise the epoch (to at least `at_least_epoch`), set the role and the relationship's role; report it."""
    with runtime.db.write() as conn:
        # Read inside the write transaction: no other writer can raise the epoch between read and write.
        new_epoch = max(_epoch(conn) + 1, at_least_epoch)
        _set_role_in(conn, role, new_epoch)
        if role == Role.PRIMARY:
            conn.execute("DELETE FROM local WHERE key = ?", (FENCE_KEY,))
    runtime.bus.publish(EventType.ROLE_CHANGED, role=role.value, epoch=new_epoch, reason=reason, **extra)  # typed
    runtime.relationship_changed()
    return new_epoch


def promote_if(runtime: AgentRuntime, expected_epoch: int, reason: str, at_least_epoch: int) -> int | None:
    """Become primary only if still the backup at `expected_epoch` (checked in the same transaction)."""
    with runtime.db.write() as conn:
        if _local(conn, "role") != Role.BACKUP.value or _epoch(conn) != expected_epoch:
            return None
        new_epoch = max(_epoch(conn) + 1, at_least_epoch)
        _set_role_in(conn, Role.PRIMARY, new_epoch)
    runtime.bus.publish(RoleChanged(role=Role.PRIMARY.value, epoch=new_epoch, reason=reason))
    runtime.relationship_changed()
    return new_epoch


def confirmed_seq(conn: sqlite3.Connection) -> int:
    """The last change of this store the peer confirmed; 0 when it confirmed none of this store's."""
    confirmed = _local(conn, CONFIRMED_KEY) or {}
    own = conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
    if not own or confirmed.get("store_id") != own[0]:
        return 0
    return int(confirmed.get("seq", 0))


def record_confirmed(runtime: AgentRuntime, store_id: str, seq: int) -> None:
    """The backup holds this store's changes up to `seq` (it asked for changes after it, or reported applying it)."""
    with runtime.db.write() as conn:
        own = conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
        if not own or own[0] != store_id:
            return  # a copy of another store confirms nothing of this one
        current = _local(conn, CONFIRMED_KEY) or {}
        if current.get("store_id") == store_id and int(current.get("seq", 0)) >= seq:
            return
        set_in(conn, CONFIRMED_KEY, {"store_id": store_id, "seq": seq})


def fence(runtime: AgentRuntime, peer: str, peer_epoch: int, reason: str) -> Fence:
    """One short transaction: backup at the peer's epoch or above, fenced until what diverged is kept aside."""
    with runtime.db.write() as conn:
        previous = _epoch(conn)
        new_epoch = max(previous + 1, peer_epoch)
        _set_role_in(conn, Role.BACKUP, new_epoch)
        record = Fence(peer=peer, peer_epoch=peer_epoch, previous_epoch=previous, epoch=new_epoch,
                       since_seq=confirmed_seq(conn), reason=reason)
        existing = _local(conn, FENCE_KEY)
        if existing is not None:  # fenced already (keeping aside did not finish): keep the earlier, lower point
            record = Fence(**{**existing, "epoch": new_epoch, "state": "keeping_aside", "error": None})
        set_in(conn, FENCE_KEY, asdict(record))
    runtime.bus.publish(RoleChanged(role=Role.BACKUP.value, epoch=new_epoch, reason=reason))
    runtime.bus.publish(Fenced(peer=peer, peer_epoch=peer_epoch, previous_epoch=previous, epoch=new_epoch,
                               since_seq=record.since_seq, reason=reason))
    runtime.relationship_changed()
    return record


def fence_of(runtime: AgentRuntime) -> Fence | None:
    raw = runtime.local.get(FENCE_KEY)
    return Fence(**raw) if raw else None


def fence_failed(runtime: AgentRuntime, error: str) -> Fence | None:
    with runtime.db.write() as conn:
        raw = _local(conn, FENCE_KEY)
        if raw is None:
            return None
        record = Fence(**{**raw, "state": "failed", "error": error})
        set_in(conn, FENCE_KEY, asdict(record))
    return record


def unfence(runtime: AgentRuntime) -> None:
    """What diverged is kept (or nothing did): the store may now be replaced by the primary's."""
    runtime.local.delete(FENCE_KEY)
    runtime.relationship_changed()


SERVES_SITE_KEY = "standalone_serves_site"  # a former primary left alone by a break keeps serving the site


def record_relationship(runtime: AgentRuntime, epoch: int, relationship: RelationshipRecord) -> None:
    """Establishing: relationship, role and epoch in one transaction (never a relationship without its role)."""
    with runtime.db.write() as conn:
        set_in(conn, "relationship", relationship.to_local())
        _set_role_in(conn, relationship.role, epoch)
        conn.execute("DELETE FROM local WHERE key IN (?, ?)", (SERVES_SITE_KEY, FENCE_KEY))


def undo_relationship(runtime: AgentRuntime, epoch: int) -> None:
    """The peer refused to record its side: back to standalone at the epoch before."""
    with runtime.db.write() as conn:
        conn.execute("DELETE FROM local WHERE key = 'relationship'")
        set_in(conn, "role", Role.STANDALONE.value)
        set_in(conn, "epoch", epoch)


@dataclass(frozen=True)
class Left:
    was: Role
    fenced: bool  # a fenced appliance keeps its data (the administrator decided, by breaking)
    epoch: int

    @property
    def data_removed(self) -> bool:
        return self.was == Role.BACKUP and not self.fenced


def leave_relationship(runtime: AgentRuntime, wipe: Any) -> Left:
    """Break: standalone, in one transaction with what goes with it. A former primary keeps serving the site (the
    site must not go dark); a backup removes its synchronised copy (`wipe(conn)`) unless it is fenced, whose data is
    the only copy of what diverged."""
    with runtime.db.write() as conn:
        was = Role(_local(conn, "role") or Role.STANDALONE.value)
        fenced = _local(conn, FENCE_KEY) is not None
        epoch = _epoch(conn) + 1
        conn.execute("DELETE FROM local WHERE key IN ('relationship', 'last_pull_at', 'no_pull_alerted', ?, ?, ?)",
                     (FENCE_KEY, CONFIRMED_KEY, SERVES_SITE_KEY))
        set_in(conn, "role", Role.STANDALONE.value)
        set_in(conn, "epoch", epoch)
        if was == Role.PRIMARY:
            set_in(conn, SERVES_SITE_KEY, True)
        left = Left(was, fenced, epoch)
        if left.data_removed:
            wipe(conn)
            conn.execute("DELETE FROM local WHERE key IN ('sync_state', 'last_sync', 'last_sync_ok_at')")
    return left


def serves_site(runtime: AgentRuntime) -> bool:
    """Whether this appliance should hold the shared address: the primary, or a former primary left alone."""
    role = runtime.role
    return role == Role.PRIMARY or (role == Role.STANDALONE and bool(runtime.local.get(SERVES_SITE_KEY)))
