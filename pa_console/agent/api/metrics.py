"""GET /metrics: Prometheus text format, for monitors (a read-only token is enough)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from pa_console.agent.auth import Admin
from pa_console.agent.metrics import AgentMetrics

router = APIRouter(dependencies=[Admin])


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    collector: AgentMetrics = request.app.state.metrics
    # The collector reads SQLite: off the event loop, which also probes the primary.
    body = await asyncio.to_thread(collector.render)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
