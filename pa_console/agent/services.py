"""Wires the background services (sync, failover watch, alerts, shared address) into a runtime."""

from __future__ import annotations

from pa_console.agent.runtime import AgentRuntime


def install_services(runtime: AgentRuntime) -> None:
    """Sync and failover services register here as they are built."""
    del runtime
