"""Wires the background services (sync, failover watch, alerts, shared address) into a runtime."""

from __future__ import annotations

from pa_console.agent.alerts import NoPullAlert
from pa_console.agent.failover.service import FailoverService
from pa_console.agent.runtime import AgentRuntime
from pa_console.agent.scrub.service import ScrubService
from pa_console.agent.sync.engine import SyncEngine
from pa_console.agent.sync.scheduler import SyncScheduler


def install_services(runtime: AgentRuntime) -> None:
    runtime.sync_engine = SyncEngine(runtime)
    runtime.sync_scheduler = SyncScheduler(runtime, runtime.sync_engine)
    runtime.no_pull_alert = NoPullAlert(runtime)
    runtime.services += [runtime.sync_scheduler, runtime.no_pull_alert]
    runtime.services.append(FailoverService(runtime))  # issue 4: watch, takeover, shared address, split brain
    runtime.scrub = ScrubService(runtime)  # issue 14: the scrub (verify the bytes against their hashes)
    runtime.services.append(runtime.scrub)
