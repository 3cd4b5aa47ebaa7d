"""Run the agent's dry run of its takeover methods (POST failover/methods/check) and keep the answer in state."""

from __future__ import annotations

from pa_console.console.client.errors import AgentError
from pa_console.console.services.fleet import Fleet
from pa_console.console.state.appliance import ApplianceState


def has_swing(state: ApplianceState) -> bool:
    settings = state.settings
    return settings is not None and (settings.dns_swing is not None or settings.nat_swing is not None)


async def refresh_method_checks(fleet: Fleet, state: ApplianceState) -> str | None:
    """Ask the appliance; the answer goes to `state.method_checks`. Returns None, or why it could not be asked."""
    try:
        checks = await fleet.client(state.id).check_takeover_methods()
    except AgentError as exc:
        return exc.message
    state.set_method_checks(checks)
    return None
