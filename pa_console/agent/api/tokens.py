"""Named API tokens: GET/POST /api/v1/tokens, DELETE /api/v1/tokens/{name} (full-access tokens only; the front door
refuses read-only ones). The same as `pa-agent token create|list|revoke`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from pa_console.agent.auth import Admin
from pa_console.agent.errors import AgentError
from pa_console.agent.tokens import TokenError, TokenStore

router = APIRouter(prefix="/tokens", dependencies=[Admin])


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    read_only: bool = False


def _store(request: Request) -> TokenStore:
    store: TokenStore = request.app.state.tokens
    return store


@router.get("")
def list_tokens(request: Request) -> list[dict[str, Any]]:
    return [{"name": t.name, "read_only": t.read_only, "created_at": t.created_at} for t in _store(request).all()]


@router.post("", status_code=201)
def create_token(body: TokenCreate, request: Request) -> dict[str, Any]:
    try:
        token = _store(request).create(body.name, body.read_only)
    except TokenError as exc:
        raise AgentError(exc.status, str(exc)) from exc
    # Shown once: only its hash is kept.
    return {"name": body.name, "read_only": body.read_only, "token": token}


@router.delete("/{name}")
def revoke_token(name: str, request: Request) -> dict[str, Any]:
    try:
        _store(request).revoke(name)
    except TokenError as exc:
        raise AgentError(exc.status, str(exc)) from exc
    return {"revoked": name}
