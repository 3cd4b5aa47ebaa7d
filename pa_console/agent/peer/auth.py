"""Authentication of agent-to-agent calls: the relationship's peer token (derived by both sides, never the key)."""

from __future__ import annotations

import hmac

from fastapi import Depends, HTTPException, Request

from pa_console.agent.auth import Runtime, bearer


def require_peer(request: Request, runtime: Runtime) -> None:
    token = bearer(request)
    rel = runtime.relationship
    if token is None or rel is None or not hmac.compare_digest(token.encode(), rel.peer_token.encode()):
        raise HTTPException(401, "This appliance is not in a failover relationship with the caller.")


PeerAuth = Depends(require_peer)
