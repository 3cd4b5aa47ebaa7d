"""Grouping appliances by relationship: a pair shows as a pair, the rest stand alone."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pa_console.console.fingerprints import same_fingerprint
from pa_console.console.state.appliance import ApplianceState
from pa_console.protocol.models import PeerSummary, Role


@dataclass(frozen=True)
class ApplianceGroup:
    """One row group of the appliance list: a pair (primary first) or a single appliance."""

    members: tuple[ApplianceState, ...]

    @property
    def is_pair(self) -> bool:
        return len(self.members) == 2

    @property
    def title(self) -> str:
        if self.is_pair:
            return f"{self.members[0].name} ⇄ {self.members[1].name}"
        return self.members[0].name


def peer_of_state(state: ApplianceState) -> PeerSummary | None:
    if state.health is not None and state.health.peer is not None:
        return state.health.peer
    if state.relationship is not None:
        return state.relationship.peer
    return None


def matches_peer(candidate: ApplianceState, peer: PeerSummary) -> bool:
    if same_fingerprint(candidate.ref.cert_fingerprint, peer.fingerprint_sha256):
        return True
    return candidate.ref.host == peer.host and candidate.ref.port == peer.port


def find_peer(state: ApplianceState, others: Iterable[ApplianceState]) -> ApplianceState | None:
    """The appliance in the console that `state` is in a relationship with, if the console knows it."""
    peer = peer_of_state(state)
    if peer is None:
        return None
    for other in others:
        if other is not state and matches_peer(other, peer):
            return other
    return None


def _role_rank(state: ApplianceState) -> int:
    return {Role.PRIMARY: 0, Role.BACKUP: 1}.get(state.role or Role.STANDALONE, 2)


def group_appliances(states: Sequence[ApplianceState]) -> list[ApplianceGroup]:
    """Pairs first found by either side naming the other as its peer; order of the input is kept."""
    placed: set[str] = set()
    groups: list[ApplianceGroup] = []
    for state in states:
        if state.id in placed:
            continue
        peer = find_peer(state, [s for s in states if s.id not in placed])
        if peer is None:
            # Maybe the other side names us (e.g. our own health is not known yet).
            peer = next(
                (o for o in states if o.id not in placed and o is not state and find_peer(o, [state]) is state),
                None,
            )
        if peer is not None:
            members = tuple(sorted((state, peer), key=_role_rank))
            placed.update({state.id, peer.id})
            groups.append(ApplianceGroup(members))
        else:
            placed.add(state.id)
            groups.append(ApplianceGroup((state,)))
    return groups
