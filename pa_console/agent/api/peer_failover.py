"""Agent-to-agent endpoints of failover (issue #4): planned swap, split-brain checks."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/peer")
