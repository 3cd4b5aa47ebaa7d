"""The failover relationship as a typed record (stored in the appliance's local state as JSON).

Written only by `failover.authority`, together with role and epoch; read anywhere through
`AgentRuntime.relationship`. Its `role` is this appliance's role in the pair (it follows every swap)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

from pa_console.protocol.models import PeerSummary, Role


class Peer(BaseModel):
    """Who the other appliance is and how to reach it (the fields as stored, unchanged)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    peer_name: str
    peer_host: str
    peer_port: int
    peer_cert_pem: str
    peer_fingerprint: str
    peer_token: str
    reverse_host: str | None = None
    reverse_port: int | None = None


class RelationshipRecord(Peer):
    role: Role
    established_at: dt.datetime

    @classmethod
    def new(cls, role: Role, peer: Peer) -> RelationshipRecord:
        return cls(role=role, established_at=dt.datetime.now(dt.UTC), **peer.model_dump())

    @classmethod
    def from_local(cls, raw: dict[str, Any] | None) -> RelationshipRecord | None:
        return None if raw is None else cls.model_validate(raw)

    def to_local(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def summary(self) -> PeerSummary:
        return PeerSummary(name=self.peer_name, host=self.peer_host, port=self.peer_port,
                           fingerprint_sha256=self.peer_fingerprint)
