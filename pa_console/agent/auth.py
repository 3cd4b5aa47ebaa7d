"""Bearer-token authentication of the admin API.

The token is checked by the front door (front_door.py) before the body is read; the dependency here is the second
lock on the same door (a route mounted without the middleware still refuses), and gives routes the caller."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.tokens import Principal


def get_runtime(request: Request) -> AgentRuntime:
    runtime: AgentRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[AgentRuntime, Depends(get_runtime)]


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def principal_of(request: Request) -> Principal | None:
    principal = getattr(request.state, "principal", None)
    return principal if isinstance(principal, Principal) else None


def require_admin(request: Request, runtime: Runtime) -> Principal:
    principal = principal_of(request)
    if principal is not None and principal.may_administer:
        return principal
    token = bearer(request)
    if token is None or not hmac.compare_digest(token.encode("utf-8", "surrogatepass"),
                                                runtime.identity.api_token.encode()):
        raise HTTPException(401, "Missing or wrong API token; use the api_token that 'pa-agent info' prints.",
                            headers={"WWW-Authenticate": "Bearer"})
    return Principal("admin", kind="admin")


Admin = Depends(require_admin)
Caller = Annotated[Principal, Depends(require_admin)]
