"""The relationship picture as data: both appliances, their roles, and the state of the link between them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pa_console.console.state.appliance import ApplianceState
from pa_console.console.state.formatting import human_bytes
from pa_console.console.state.outlook import auto_failover, lost_line
from pa_console.console.state.status import ConnectionStatus, LinkState
from pa_console.protocol.models import Role, SyncStatus


@dataclass(frozen=True)
class NodePicture:
    name: str
    role: str  # "primary", "backup", "standalone", "unknown"
    status: ConnectionStatus | None  # None: not in the console
    detail: str


@dataclass(frozen=True)
class RelationshipPicture:
    left: NodePicture
    right: NodePicture | None
    link: LinkState
    link_label: str
    behind_minutes: int | None = None
    countdown_s: float | None = None


def _node(state: ApplianceState) -> NodePicture:
    return NodePicture(state.name, state.role_label(), state.status, f"{state.ref.address} · {state.status.label}")


def _peer_node(state: ApplianceState) -> NodePicture | None:
    peer = state.health.peer if state.health is not None else None
    if peer is None and state.relationship is not None:
        peer = state.relationship.peer
    if peer is None:
        return None
    role = {Role.PRIMARY: "backup", Role.BACKUP: "primary"}.get(state.role or Role.STANDALONE, "unknown")
    return NodePicture(peer.name, role, None, f"{peer.host}:{peer.port} · not in this console")


def behind_threshold_s(backup: ApplianceState) -> float:
    interval = backup.settings.pull_interval_s if backup.settings is not None else 300.0
    return max(2 * interval, 120.0)


def build_picture(
    selected: ApplianceState,
    peer: ApplianceState | None,
    *,
    now: datetime | None = None,
) -> RelationshipPicture:
    """Link state rules, in order: none, primary lost, syncing, broken (failed sync), behind, in sync."""
    now = now or datetime.now(UTC)
    primary, backup = selected, peer
    stale_primary = (peer is not None and selected.role == peer.role == Role.PRIMARY
                     and selected.status != ConnectionStatus.ONLINE and peer.status == ConnectionStatus.ONLINE)
    if selected.role == Role.BACKUP or stale_primary:
        # The backup's view counts; and after a takeover the old primary, offline, is only "primary (last known)":
        # the pair is seen from the appliance that answers as primary, whichever is selected (tree and diagram).
        primary, backup = (peer, selected) if peer is not None else (selected, None)
    left = _node(primary) if primary is not None else _node(selected)
    right = _node(backup) if backup is not None and backup is not primary else _peer_node(selected)
    established = selected.health is not None and selected.health.relationship_established
    if not established:
        return RelationshipPicture(_node(selected), None, LinkState.NONE, "No failover relationship")
    if selected.health is None:
        return RelationshipPicture(left, right, LinkState.UNKNOWN, "Waiting for the appliance")
    # The backup's view of the link is the one that counts: it pulls and it watches the primary.
    watcher = backup if backup is not None and backup.health is not None else selected
    health = watcher.health
    assert health is not None
    label = lost_line(watcher)
    if label is not None:
        left_s = watcher.countdown_left() if auto_failover(watcher).takes_over else None
        return RelationshipPicture(left, right, LinkState.PRIMARY_LOST, label, countdown_s=left_s)
    if health.last_sync_status == SyncStatus.RUNNING or watcher.progress is not None:
        progress = watcher.progress
        label = "Syncing"
        if progress is not None and progress.bytes_total:
            label = f"Syncing · {human_bytes(progress.bytes_done)} of {human_bytes(progress.bytes_total)}"
        return RelationshipPicture(left, right, LinkState.SYNCING, label)
    if health.last_sync_status == SyncStatus.FAILED:
        reason = watcher.last_report.error if watcher.last_report is not None else None
        return RelationshipPicture(left, right, LinkState.BROKEN, f"Last sync failed: {reason or 'see the timeline'}")
    if watcher.status != ConnectionStatus.ONLINE:
        return RelationshipPicture(left, right, LinkState.UNKNOWN, f"{watcher.name} {watcher.status.phrase}")
    if health.last_sync_at is None:
        return RelationshipPicture(left, right, LinkState.BEHIND, "Not synchronised yet")
    last = health.last_sync_at if health.last_sync_at.tzinfo else health.last_sync_at.replace(tzinfo=UTC)
    age = (now - last).total_seconds()
    if age > behind_threshold_s(watcher):
        minutes = int(age // 60)
        return RelationshipPicture(left, right, LinkState.BEHIND, f"Behind by {minutes} min", behind_minutes=minutes)
    return RelationshipPicture(left, right, LinkState.IN_SYNC, "In sync")
