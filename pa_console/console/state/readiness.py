"""Is the pair fit for failover? Computed in the console from both appliances' health, settings and keys."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pa_console.console.fingerprints import same_fingerprint
from pa_console.console.state.appliance import ApplianceState
from pa_console.console.state.outlook import AutoFailover, auto_failover, health_field
from pa_console.console.state.picture import behind_threshold_s
from pa_console.console.state.status import ConnectionStatus
from pa_console.protocol.models import FailoverSettings, Role, SharedAddress, SyncStatus


@dataclass(frozen=True)
class ReadinessItem:
    key: str
    title: str
    ok: bool | None  # None: cannot tell (yet)
    detail: str


@dataclass(frozen=True)
class Readiness:
    items: tuple[ReadinessItem, ...]

    @property
    def ready(self) -> bool:
        return all(item.ok is True for item in self.items)

    def failing(self) -> list[ReadinessItem]:
        return [item for item in self.items if item.ok is not True]


def _keys(a: ApplianceState, b: ApplianceState | None) -> ReadinessItem:
    title = "Inter-Appliance keys match"
    if b is None or not a.key_fingerprint or not b.key_fingerprint:
        return ReadinessItem("keys", title, None, "Add both appliances to the console to compare their keys.")
    if same_fingerprint(a.key_fingerprint, b.key_fingerprint):
        return ReadinessItem("keys", title, True, "Both appliances hold the same key.")
    return ReadinessItem("keys", title, False, "The keys differ; set the same key on both on the Security page.")


def _versions(a: ApplianceState, b: ApplianceState | None) -> ReadinessItem:
    title = "Product versions match"
    if b is None or a.health is None or b.health is None:
        return ReadinessItem("versions", title, None, "The versions of both appliances are not known yet.")
    ha, hb = a.health, b.health
    if ha.version == hb.version and ha.schema_version == hb.schema_version:
        return ReadinessItem("versions", title, True, f"Both run version {ha.version}.")
    return ReadinessItem(
        "versions",
        title,
        False,
        f"{a.name} runs {ha.version}, {b.name} runs {hb.version}; upgrade one of them.",
    )


def _last_sync(backup: ApplianceState | None, now: datetime) -> ReadinessItem:
    title = "Last sync recent and good"
    if backup is None or backup.health is None:
        return ReadinessItem("sync", title, None, "The backup is not known yet.")
    # The last sync an unreachable backup told of may be one it ran in another role (before a takeover): not
    # ground for "recent and good" now.
    offline = _offline(backup, "sync", title)
    if offline is not None:
        return offline
    health = backup.health
    if health.last_sync_status == SyncStatus.FAILED:
        reason = backup.last_report.error if backup.last_report is not None else None
        return ReadinessItem("sync", title, False, f"The last sync failed: {reason or 'see the timeline'}.")
    if health.last_sync_at is None:
        return ReadinessItem("sync", title, False, "The backup has never synchronised; press Sync Now.")
    last = health.last_sync_at if health.last_sync_at.tzinfo else health.last_sync_at.replace(tzinfo=UTC)
    age = (now - last).total_seconds()
    if age > behind_threshold_s(backup):
        return ReadinessItem("sync", title, False, f"The last good sync is {int(age // 60)} min old; press Sync Now.")
    return ReadinessItem("sync", title, True, f"Last sync {int(age)} s ago, finished well.")


def _host_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def shared_subnet_problem(shared: SharedAddress, hosts: list[str]) -> str | bool | None:
    """None: fine; a sentence: the problem; False: cannot tell (host names rather than addresses)."""
    address = ipaddress.ip_address(shared.address)
    if shared.driver == "loopback":
        if not address.is_loopback:
            return "The loopback driver needs an address in 127.0.0.0/8."
        return None
    network = ipaddress.ip_network(f"{address}/{shared.prefix_len}", strict=False)
    ips = [_host_ip(h) for h in hosts]
    if any(ip is None for ip in ips):
        return False
    outside = [h for h, ip in zip(hosts, ips, strict=True) if ip not in network]
    if outside:
        return f"{', '.join(outside)} is not in {network}; the shared address must be in a subnet both share."
    return None


SettingsOf = Callable[[ApplianceState], FailoverSettings | None]


def _shared_address(primary: ApplianceState, backup: ApplianceState | None, settings_of: SettingsOf) -> ReadinessItem:
    title = "Shared address set, identical and in a shared subnet"
    ps = settings_of(primary)
    bs = settings_of(backup) if backup is not None else None
    if backup is None or bs is None or ps is None:
        return ReadinessItem("shared", title, None, "The failover settings of both appliances are not known yet.")
    sa, sb = ps.shared_address, bs.shared_address
    if sb is None and (bs.dns_swing is not None or bs.nat_swing is not None):
        swings = " and ".join(n for n, m in (("DNS swing", bs.dns_swing), ("NAT swing", bs.nat_swing)) if m)
        return ReadinessItem("shared", title, True, f"Not used: {backup.name} fails over by {swings}.")
    if sb is None:
        return ReadinessItem("shared", title, False, f"No shared address is set on {backup.name}.")
    if sa is None:
        return ReadinessItem(
            "shared", title, False, f"No shared address is set on {primary.name}, which serves it until a failover."
        )
    if sa.driver == "load_balancer" or sb.driver == "load_balancer":
        # Behind a load balancer each appliance serves the site on its own address (issue 16): no shared subnet.
        if sa.driver != sb.driver:
            return ReadinessItem("shared", title, False, f"{primary.name} uses the {sa.driver} method, "
                                 f"{backup.name} the {sb.driver} method; use load_balancer on both.")
        return ReadinessItem("shared", title, True, f"Behind a load balancer: {primary.name} serves "
                             f"{sa.address}:{sa.port}, {backup.name} {sb.address}:{sb.port} when primary.")
    if (sa.address, sa.port) != (sb.address, sb.port):
        return ReadinessItem(
            "shared",
            title,
            False,
            f"{primary.name} uses {sa.address}:{sa.port}, {backup.name} {sb.address}:{sb.port}.",
        )
    problem = shared_subnet_problem(sb, [primary.ref.host, backup.ref.host])
    if problem is False:
        return ReadinessItem("shared", title, None, f"{sb.address} is set; the console cannot check the subnet.")
    if isinstance(problem, str):
        return ReadinessItem("shared", title, False, problem)
    return ReadinessItem("shared", title, True, f"{sb.address}:{sb.port} ({sb.driver}).")


_SWINGS = (("dns_swing", "DNS swing ready"), ("nat_swing", "NAT swing ready"))


def _swings(backup: ApplianceState | None, settings_of: SettingsOf) -> list[ReadinessItem]:
    """One item per DNS/NAT swing configured on the backup, from its last dry run (Check)."""
    settings = settings_of(backup) if backup is not None else None
    if backup is None or settings is None:
        return []
    items: list[ReadinessItem] = []
    checks = {c.method: c for c in backup.method_checks or []}
    for key, title in _SWINGS:
        if getattr(settings, key) is None:
            continue
        saved = backup.settings
        check = checks.get(key)
        if saved is None or getattr(saved, key) != getattr(settings, key):
            items.append(ReadinessItem(key, title, None, "Not checked yet: save the settings, then press Check."))
        elif check is None or not check.configured:
            items.append(ReadinessItem(key, title, None, "Not checked yet: press Check in the failover settings."))
        else:
            items.append(ReadinessItem(key, title, check.ready, check.detail.rstrip(".") + "."))
    return items


def _peer_reachable(primary: ApplianceState, backup: ApplianceState | None) -> ReadinessItem:
    title = "Peer reachable"
    if backup is None or backup.health is None:
        return ReadinessItem("peer", title, None, "The backup is not known yet.")
    if backup.health.primary_reachable is False:
        return ReadinessItem("peer", title, False, f"{backup.name} cannot reach the primary.")
    for state in (primary, backup):
        if state.status != ConnectionStatus.ONLINE:
            return ReadinessItem("peer", title, False, f"The console cannot reach {state.name}.")
    return ReadinessItem("peer", title, True, "Both appliances answer.")


def _offline(backup: ApplianceState, key: str, title: str) -> ReadinessItem | None:
    """What an appliance said before the console lost it is no ground for a green item."""
    if backup.status != ConnectionStatus.ONLINE and backup.health is not None:
        return ReadinessItem(key, title, None, f"{backup.name} {backup.status.phrase}: not known now.")
    return None


def _auto_failover(backup: ApplianceState | None, settings_of: SettingsOf) -> ReadinessItem:
    if backup is None:
        return ReadinessItem("auto", "Automatic failover", None, "The backup is not known yet.")
    offline = _offline(backup, "auto", "Automatic failover")
    if offline is not None:
        return offline
    auto = auto_failover(backup, settings_of(backup))
    detail = {
        AutoFailover.ON: f"If the primary stays lost for the timeout, {backup.name} takes over by itself.",
        AutoFailover.OFF: f"If the primary is lost, nothing happens by itself: an administrator makes {backup.name} "
                          "the primary (Become Primary).",
        AutoFailover.BLOCKED: f"{backup.name} will not take over by itself: {(auto.why or '').rstrip('.')}.",
        AutoFailover.UNKNOWN: "The backup's failover settings are not known yet.",
    }[auto.mode]
    ok = {AutoFailover.ON: True, AutoFailover.BLOCKED: False}.get(auto.mode)
    return ReadinessItem("auto", auto.words(), ok, detail)


def _complete_copy(backup: ApplianceState | None) -> ReadinessItem:
    title = "The backup holds a complete copy"
    if backup is None or backup.health is None:
        return ReadinessItem("copy", title, None, "The backup is not known yet.")
    offline = _offline(backup, "copy", title)
    if offline is not None:
        return offline
    said = health_field(backup, "copy_complete")
    if isinstance(said, bool):  # the agent knows (issue 13); its sentence says what a takeover would serve
        detail = health_field(backup, "copy_detail") or ("A sync applied and checked a full copy." if said
                                                         else "A takeover now would serve an incomplete copy.")
        return ReadinessItem("copy", title, said, str(detail))
    report = backup.last_report
    if report is not None and report.status == SyncStatus.OK and report.digest_ok is not False:
        return ReadinessItem("copy", title, True, "The last sync applied a full copy and its digest matched.")
    if report is None and backup.health.last_sync_status == SyncStatus.OK:
        return ReadinessItem("copy", title, True, "The last sync finished well.")
    if backup.health.last_sync_at is None and (report is None or report.status != SyncStatus.OK):
        return ReadinessItem("copy", title, False, "The backup has never finished a sync: it holds no copy yet.")
    if report is not None and report.digest_ok is False:
        return ReadinessItem("copy", title, False, "The last sync's digest did not match the primary's.")
    return ReadinessItem("copy", title, None, "The backup's copy has not been checked since the console started.")


def check_readiness(
    selected: ApplianceState,
    peer: ApplianceState | None,
    *,
    now: datetime | None = None,
    pending: FailoverSettings | None = None,
) -> Readiness:
    """`pending`: failover settings of `selected` about to be saved, judged instead of its current ones."""
    now = now or datetime.now(UTC)

    def settings_of(state: ApplianceState) -> FailoverSettings | None:
        return pending if pending is not None and state is selected else state.settings

    primary, backup = selected, peer
    if selected.role == Role.BACKUP:
        primary, backup = (peer, selected) if peer is not None else (selected, selected)
    assert primary is not None
    if backup is primary:
        backup = None if selected.role != Role.BACKUP else selected
    return Readiness(
        (
            _keys(selected, peer),
            _versions(selected, peer),
            _last_sync(backup, now),
            _complete_copy(backup),
            _auto_failover(backup, settings_of),
            _shared_address(primary, backup, settings_of),
            *_swings(backup, settings_of),
            _peer_reachable(primary, backup),
        )
    )
