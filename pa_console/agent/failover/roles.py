"""Role changes made by failover: kept for the callers that import it here; the owner is `authority`."""

from __future__ import annotations

from pa_console.agent.failover.authority import change_role

__all__ = ["change_role"]
