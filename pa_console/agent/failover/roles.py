"""Role changes made by failover: role, epoch and the relationship's recorded role move together.

After a swap the relationship's roles swap too, so `runtime.relationship["role"]` is rewritten in the same
transaction as the role itself: there is never a moment where the two disagree on disk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pa_console.agent.store.local import set_in
from pa_console.protocol.events import RoleChanged
from pa_console.protocol.models import Role

if TYPE_CHECKING:
    from pa_console.agent.runtime import AgentRuntime


def set_relationship_role(runtime: AgentRuntime, role: Role) -> None:
    """Record the appliance's new role in its relationship (no-op without one)."""
    rel = runtime.relationship
    if rel is not None and rel.get("role") != role.value:
        runtime.local.set("relationship", {**rel, "role": role.value})


def change_role(runtime: AgentRuntime, role: Role, reason: str, at_least_epoch: int = 0, **extra: object) -> int:
    """Raise the epoch (to at least `at_least_epoch`), set the role and the relationship's role; report it."""
    with runtime.db.write() as conn:
        # Read inside the write transaction: no other writer can raise the epoch between read and write.
        new_epoch = max(runtime.epoch + 1, at_least_epoch)
        set_in(conn, "role", role.value)
        set_in(conn, "epoch", new_epoch)
        rel = runtime.relationship
        if rel is not None:
            set_in(conn, "relationship", {**rel, "role": role.value})
    runtime.bus.publish(RoleChanged(role=role.value, epoch=new_epoch, reason=reason, **extra))
    runtime.relationship_changed()
    return new_epoch
