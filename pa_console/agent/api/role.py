"""Manual failover and the failover API for automation (issue #4): POST /failover/role."""

from __future__ import annotations

from fastapi import APIRouter

from pa_console.agent.auth import Admin

router = APIRouter(prefix="/failover", dependencies=[Admin])
