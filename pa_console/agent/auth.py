"""Bearer-token authentication of the admin API."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from pa_console.agent.runtime import AgentRuntime


def get_runtime(request: Request) -> AgentRuntime:
    runtime: AgentRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[AgentRuntime, Depends(get_runtime)]


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_admin(request: Request, runtime: Runtime) -> None:
    token = bearer(request)
    if token is None or not hmac.compare_digest(token.encode(), runtime.identity.api_token.encode()):
        raise HTTPException(401, "Missing or wrong API token; use the api_token that 'pa-agent info' prints.",
                            headers={"WWW-Authenticate": "Bearer"})


Admin = Depends(require_admin)
