"""The DNS swing's TSIG secret: write-only in the API, kept apart from the failover settings.

The failover settings are returned by GET and published in events whole, so the secret is not among them: it
lives in the appliance's local store (never synchronised: each appliance's failover settings are its own) and the
settings only say `tsig_secret_set`. A PUT that leaves `tsig_secret` out keeps the stored one, as the email
password does.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pa_console.agent.runtime import AgentRuntime

STORE_KEY = "dns_swing_tsig_secret"


def tsig_secret(runtime: AgentRuntime) -> str | None:
    value = runtime.local.get(STORE_KEY)
    return str(value) if value else None


def as_stored(changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of a settings PUT's changes as the settings will hold them (the secret replaced by its flag), so that
    the merged settings can be validated before anything, the secret included, is stored: a PUT refused with 422
    changed the stored secret, or deleted it while the settings still said `tsig_secret_set`."""
    out = copy.deepcopy(changes)
    dns_swing = out.get("dns_swing")
    if isinstance(dns_swing, dict):
        dns_swing.pop("tsig_secret", None)
        dns_swing["tsig_secret_set"] = True
    return out


def take_write_only_secrets(runtime: AgentRuntime, changes: dict[str, Any]) -> None:
    """Called with a settings PUT's changes (model_dump(exclude_unset=True)) before they are merged and saved:
    moves `dns_swing.tsig_secret` to the local store and puts `tsig_secret_set` in its place."""
    if "dns_swing" not in changes:
        return
    dns_swing = changes["dns_swing"]
    if dns_swing is None:  # the method is removed: its secret goes with it
        runtime.local.delete(STORE_KEY)
        return
    secret = dns_swing.pop("tsig_secret", None)
    if secret is not None:
        if secret:
            runtime.local.set(STORE_KEY, secret)
        else:
            runtime.local.delete(STORE_KEY)
    dns_swing["tsig_secret_set"] = tsig_secret(runtime) is not None
