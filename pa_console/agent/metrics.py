"""The agent's state as Prometheus metrics, read live at each scrape (a custom collector, no global registry).

Gauges come from the same health the API answers; counters from the event log, counted incrementally since the agent
started (a Prometheus counter may reset at a restart, never go down while the process lives).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pa_console.agent.compat.health_check import judge
from pa_console.protocol.models import EventType, Role, SyncStatus

if TYPE_CHECKING:
    from pa_console.agent.runtime import AgentRuntime

# Counted events: metric name, help, event types.
_COUNTED = {
    "pa_agent_mails_sent": ("Mails sent to the administrator since the agent started.", [EventType.MAIL_SENT]),
    "pa_agent_mails_failed": ("Mails that could not be sent since the agent started.", [EventType.MAIL_FAILED]),
    "pa_agent_syncs": ("Syncs finished since the agent started (both outcomes).",
                       [EventType.SYNC_FINISHED, EventType.SYNC_FAILED]),
    "pa_agent_syncs_failed": ("Syncs failed since the agent started.", [EventType.SYNC_FAILED]),
    "pa_agent_primary_lost": ("Times the backup lost its primary since the agent started.", [EventType.PRIMARY_LOST]),
    "pa_agent_takeovers": ("Takeovers by this appliance since the agent started.", [EventType.TAKEOVER]),
}


class _EventCounts:
    """Counts of event types and sums of the data moved by syncs, after the id where counting began."""

    def __init__(self, runtime: AgentRuntime) -> None:
        self._runtime = runtime
        self._lock = threading.Lock()
        self._last_id = runtime.bus.store.last_id()
        self.by_type: dict[str, int] = {}
        self.rows_moved = 0
        self.bytes_moved = 0

    def refresh(self) -> None:
        with self._lock:
            conn = self._runtime.db.connect()
            rows = conn.execute(
                "SELECT type, COUNT(*), MAX(id), SUM(CASE WHEN type IN (?, ?) THEN json_extract(data, '$.rows_moved')"
                " END), SUM(CASE WHEN type IN (?, ?) THEN json_extract(data, '$.bytes_moved') END) "
                "FROM events WHERE id > ? GROUP BY type",
                (EventType.SYNC_FINISHED.value, EventType.SYNC_FAILED.value,
                 EventType.SYNC_FINISHED.value, EventType.SYNC_FAILED.value, self._last_id)).fetchall()
            for type_, count, max_id, rows_moved, bytes_moved in rows:
                self.by_type[type_] = self.by_type.get(type_, 0) + int(count)
                self.rows_moved += int(rows_moved or 0)
                self.bytes_moved += int(bytes_moved or 0)
                self._last_id = max(self._last_id, int(max_id))


class AgentCollector(Collector):
    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self.counts = _EventCounts(runtime)

    def collect(self) -> Iterator[Metric]:
        runtime = self.runtime
        health = runtime.health()
        verdict = judge(runtime)
        labels = {"appliance": health.name}
        role = GaugeMetricFamily("pa_agent_role", "1 for the appliance's current failover role.",
                                 labels=["appliance", "role"])
        for each_role in Role:
            role.add_metric([health.name, each_role.value], 1.0 if health.role == each_role else 0.0)
        yield role
        yield _gauge("pa_agent_active_site", "1 when this appliance is healthy and the active site (as /check_health).",
                     labels, 1.0 if verdict.ok else 0.0)
        yield _gauge("pa_agent_epoch", "The failover epoch (raised at every role change).", labels, health.epoch)
        yield _gauge("pa_agent_relationship_established", "1 when in a failover relationship.", labels,
                     1.0 if health.relationship_established else 0.0)
        status = GaugeMetricFamily("pa_agent_sync_status", "1 for the status of the last sync.",
                                   labels=["appliance", "status"])
        for each_status in SyncStatus:
            status.add_metric([health.name, each_status.value], 1.0 if health.last_sync_status == each_status else 0.0)
        yield status
        if health.last_sync_at is not None:
            at = health.last_sync_at if health.last_sync_at.tzinfo else health.last_sync_at.replace(tzinfo=dt.UTC)
            yield _gauge("pa_agent_last_sync_timestamp_seconds", "Unix time of the last successful sync.", labels,
                         at.timestamp())
            yield _gauge("pa_agent_sync_age_seconds", "Seconds since the last successful sync.", labels,
                         max(0.0, (dt.datetime.now(dt.UTC) - at).total_seconds()))
        last = health.last_sync
        if last is not None:
            yield _gauge("pa_agent_last_sync_rows_moved", "Rows moved by the last sync.", labels, last.rows_moved)
            yield _gauge("pa_agent_last_sync_bytes_moved", "Bytes moved by the last sync.", labels, last.bytes_moved)
            yield _gauge("pa_agent_last_sync_duration_seconds", "Duration of the last sync.", labels, last.duration_s)
        if health.failover_in_s is not None:
            yield _gauge("pa_agent_failover_countdown_seconds",
                         "Seconds left before this backup takes over (only while its primary is lost).", labels,
                         health.failover_in_s)
        if health.primary_reachable is not None:
            yield _gauge("pa_agent_primary_reachable", "1 when this backup reaches its primary.", labels,
                         1.0 if health.primary_reachable else 0.0)
        yield _gauge("pa_agent_probe_failures", "Failed probes of the primary in a row (0 when it answers).", labels,
                     _probe_failures(runtime))
        yield _gauge("pa_agent_serving_site", "1 while this appliance serves the site (shared address).", labels,
                     1.0 if health.serving_shared_address else 0.0)
        self.counts.refresh()
        for name, (text, types) in _COUNTED.items():
            counter = CounterMetricFamily(name, text, labels=["appliance"])
            counter.add_metric([health.name], sum(self.counts.by_type.get(t.value, 0) for t in types))
            yield counter
        for name, text, moved in (("pa_agent_sync_rows_moved", "Rows moved by syncs since the agent started.",
                                   self.counts.rows_moved),
                                  ("pa_agent_sync_bytes_moved", "Bytes moved by syncs since the agent started.",
                                   self.counts.bytes_moved)):
            counter = CounterMetricFamily(name, text, labels=["appliance"])
            counter.add_metric([health.name], moved)
            yield counter


def _gauge(name: str, text: str, labels: dict[str, str], value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, text, labels=list(labels))
    gauge.add_metric(list(labels.values()), float(value))
    return gauge


def _probe_failures(runtime: AgentRuntime) -> float:
    # Imported here: the failover service imports much of the agent; metrics only read its monitor's state.
    from pa_console.agent.failover.service import FailoverService

    try:
        return float(FailoverService.of(runtime).monitor.state.failures)
    except (LookupError, AttributeError):
        return 0.0


class AgentMetrics:
    """One registry per agent: two agents can run in one process, and nothing registers at import time."""

    def __init__(self, runtime: AgentRuntime) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(AgentCollector(runtime))

    def render(self) -> bytes:
        return generate_latest(self.registry)
