"""The agent's HTTPS application, built by a factory (two agents can run in one process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from pa_console.agent.api import (
    email,
    events,
    failover,
    health,
    peer,
    peer_failover,
    peer_repair,
    role,
    security,
    settings,
    site,
    tokens,
)
from pa_console.agent.api.compat import command_router as compat_command_router
from pa_console.agent.api.compat import router as compat_router
from pa_console.agent.api.metrics import router as metrics_router
from pa_console.agent.errors import install_error_handlers
from pa_console.agent.front_door import FrontDoor
from pa_console.agent.metrics import AgentMetrics
from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.takeover_methods import api as takeover_methods
from pa_console.agent.tokens import TokenStore
from pa_console.protocol.constants import API_PREFIX, PRODUCT_VERSION


def create_app(runtime: AgentRuntime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title="pa-agent", version=PRODUCT_VERSION, lifespan=lifespan,
                  # No unauthenticated documentation endpoints: every endpoint needs the token.
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = runtime
    app.state.metrics = AgentMetrics(runtime)  # counts events from here on
    app.state.tokens = TokenStore(runtime.identity.data_dir.tokens)
    # Outermost but for Starlette's error middleware: credentials are checked before any body is read.
    app.add_middleware(FrontDoor, runtime=runtime, tokens=app.state.tokens)
    install_error_handlers(app)
    for module in (health, settings, security, email, site, events, failover, role, peer, peer_failover,
                   peer_repair, takeover_methods, tokens):
        app.include_router(module.router, prefix=API_PREFIX)
    # Outside /api/v1, where BeyondTrust has them (issue 16).
    for router in (compat_router, compat_command_router, metrics_router):
        app.include_router(router)
    return app
