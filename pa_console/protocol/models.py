"""Typed models of the agent's HTTPS API (issue #2 and on). Field names are a public contract: add, never rename."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

if TYPE_CHECKING:
    from pa_console.protocol.events import AnyEvent, EventBody

from pa_console.protocol.validation import email_problem, key_problem

__all__ = [
    "AgentInfo",
    "DnsSwing",
    "DnsSwingUpdate",
    "EmailConfig",
    "EmailConfigUpdate",
    "EmailSecurity",
    "EmailTestResult",
    "Endpoint",
    "ErrorBody",
    "Event",
    "EventType",
    "FailoverSettings",
    "FailoverSettingsUpdate",
    "GeneratedKey",
    "Health",
    "KeyFingerprint",
    "KeyUpdate",
    "NatSwing",
    "PeerSummary",
    "RelationshipInfo",
    "RelationshipRequest",
    "Role",
    "RoleRequest",
    "RoleResult",
    "SharedAddress",
    "SiteDigest",
    "SyncProgress",
    "SyncReport",
    "SyncStartResult",
    "SyncStatus",
    "TakeoverMethodCheck",
    "TsigAlgorithm",
    "is_valid_host",
]


class Role(StrEnum):
    STANDALONE = "standalone"
    PRIMARY = "primary"
    BACKUP = "backup"


class SyncStatus(StrEnum):
    NEVER = "never"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"


class EmailSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class EventType(StrEnum):
    AGENT_STARTED = "agent_started"
    ROLE_CHANGED = "role_changed"
    RELATIONSHIP_ESTABLISHED = "relationship_established"
    RELATIONSHIP_BROKEN = "relationship_broken"
    SYNC_STARTED = "sync_started"
    SYNC_PROGRESS = "sync_progress"
    SYNC_FINISHED = "sync_finished"
    SYNC_FAILED = "sync_failed"
    PRIMARY_LOST = "primary_lost"
    PRIMARY_RECOVERED = "primary_recovered"
    COUNTDOWN = "countdown"
    AWAITING_MANUAL_FAILOVER = "awaiting_manual_failover"
    TAKEOVER = "takeover"
    TAKEOVER_STEP = "takeover_step"
    DEMOTED = "demoted"
    SPLIT_BRAIN_DATA_KEPT = "split_brain_data_kept"
    NO_PULL_ALERT = "no_pull_alert"
    PULLS_RESUMED = "pulls_resumed"
    SETTINGS_CHANGED = "settings_changed"
    EMAIL_CHANGED = "email_changed"
    KEY_CHANGED = "key_changed"
    MAIL_SENT = "mail_sent"
    MAIL_FAILED = "mail_failed"
    SITE_CHANGED = "site_changed"
    # Issue 13: fencing, refused probes, heartbeats.
    FENCED = "fenced"  # this appliance stopped being primary because its peer is primary at a higher epoch
    KEEP_ASIDE_FAILED = "keep_aside_failed"  # the diverged data could not be kept aside: stays fenced, untouched
    PRIMARY_REFUSED = "primary_refused"  # the primary answers but no longer recognises the relationship
    TAKEOVER_BLOCKED = "takeover_blocked"  # automatic takeover is (or is no longer) blocked, and why
    # The scrub (payloads: pa_console.protocol.verify)
    VERIFY_STARTED = "verify_started"
    VERIFY_PROGRESS = "verify_progress"
    VERIFY_FINISHED = "verify_finished"


_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")


def is_valid_host(value: str) -> bool:
    """A host name (RFC 1123) or an IPv4/IPv6 address; the console validates with this too, as the user types."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(value))


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Strict(BaseModel):
    """Request bodies: unknown fields are refused, so a typo in a script is an error rather than a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(_Model):
    detail: str
    category: str | None = None


class AgentInfo(_Model):
    """What `pa-agent info DATA_DIR --json` prints."""

    name: str
    listen: str | None
    fingerprint_sha256: str
    cert_path: str
    api_token: str
    data_dir: str | None = None


class Endpoint(_Strict):
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(ge=1, le=65535)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip()
        if not is_valid_host(value):
            raise ValueError("must be a host name or an IP address")
        return value


class RelationshipRequest(_Strict):
    backup: Endpoint
    reverse: Endpoint


class PeerSummary(_Model):
    name: str
    host: str
    port: int
    fingerprint_sha256: str


class RelationshipInfo(_Model):
    role: Role
    established_at: datetime
    peer: PeerSummary
    detail: str | None = None


class Health(_Model):
    name: str
    version: str
    role: Role
    relationship_established: bool
    sync_enabled: bool
    last_sync_at: datetime | None
    last_sync_status: SyncStatus
    primary_reachable: bool | None
    failover_in_s: float | None
    epoch: int
    # Additions beyond the contract.
    schema_version: int = 0
    fingerprint_sha256: str | None = None
    key_fingerprint: str | None = None
    peer: PeerSummary | None = None
    awaiting_manual_failover: bool = False
    auto_failover: bool = False
    last_sync: SyncReport | None = None
    sync_progress: SyncProgress | None = None
    serving_shared_address: bool = False
    # Issue 13 (all None on an appliance they do not apply to).
    copy_complete: bool | None = None  # backup: holds a complete, verified copy (a sync applied and checked)
    copy_detail: str | None = None  # one sentence on the backup's copy (what a takeover would serve)
    # backup: why it could not take over automatically even with automatic failover on (a sentence), or None
    auto_takeover_blocked: str | None = None
    primary_refused: str | None = None  # backup: what the primary answered when it refused the relationship
    heartbeat_age_s: float | None = None  # backup: seconds since the primary's last heartbeat arrived
    probes_ok: bool | None = None  # backup: whether its own probes of the primary are answered
    witness_ok: bool | None = None  # backup: all witness addresses reachable (None: no witness configured)
    witness_detail: str | None = None
    fenced: str | None = None  # set while fenced (kept-aside pending or failed): what happened and what to do


class KeyFingerprint(_Model):
    fingerprint: str


class KeyUpdate(_Strict):
    key: str = Field(min_length=32, max_length=256)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        problem = key_problem(value)
        if problem:
            raise ValueError(problem)
        return value.strip()


class GeneratedKey(_Model):
    key: str
    fingerprint: str


class EmailConfig(_Model):
    host: str = ""
    port: int = 25
    security: EmailSecurity = EmailSecurity.NONE
    username: str = ""
    password_set: bool = False
    sender: str = ""
    recipients: list[str] = Field(default_factory=list)
    # The relay's CA, trusted besides the system trust store (issue 16): a PEM file's path, or the PEM text.
    ca_file: str = ""
    # How the server's certificate is verified, in words (read-only; the agent says it).
    verification: str = ""


class EmailConfigUpdate(_Strict):
    host: str = Field(default="", max_length=253)
    port: int = Field(default=25, ge=1, le=65535)
    security: EmailSecurity = EmailSecurity.NONE
    username: str = Field(default="", max_length=256)
    # None keeps the stored password; "" clears it. Write-only: never returned.
    password: str | None = Field(default=None, max_length=1024)
    sender: str = Field(default="", max_length=320)
    recipients: list[str] = Field(default_factory=list, max_length=100)
    # The relay's CA, trusted besides the system trust store: the absolute path of a PEM file on the appliance, or
    # the PEM text itself (which then travels to the backup with the sync); "" trusts the system trust store alone.
    ca_file: str = Field(default="", max_length=65_536)

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("/", "-----BEGIN CERTIFICATE-----")):
            raise ValueError("must be an absolute path on the appliance, such as /etc/pa-agent/smtp-ca.pem, or the "
                             "CA certificate in PEM form")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip()
        if value and not is_valid_host(value):
            raise ValueError("must be a host name or an IP address")
        return value

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        value = value.strip()
        if value and email_problem(value):
            raise ValueError("must be an email address such as pa@example.com")
        return value

    @field_validator("recipients", mode="before")
    @classmethod
    def _recipients(cls, values: Any) -> Any:
        # Bounded before anything else is done with them: at most 100 of at most 254 characters (issue 14: 100
        # recipients of 1 MB each were stored and published in one event).
        if not isinstance(values, list) or len(values) > 100:
            return values  # the type and length checks that follow say what is wrong
        cleaned = []
        for v in values:
            if not isinstance(v, str):
                return values  # the type check below says what is wrong
            if v.strip():
                problem = email_problem(v.strip())
                if problem:
                    raise ValueError(f"{problem} Give one address per item.")
                cleaned.append(v.strip())
        return cleaned


class EmailTestResult(_Model):
    ok: bool
    code: int | None = None
    message: str


class SiteDigest(_Model):
    sessions: int
    recordings: int
    recording_bytes: int
    sha256: str
    users: int = 0
    settings: int = 0
    seq: int = 0
    # From the last scrub (pa-agent verify / POST /site/verify): items found damaged and not repaired yet (the
    # digest leaves them out), and when the bytes were last proved to match their hashes.
    damaged: int = 0
    verified_at: datetime | None = None


class Event(_Model):
    """An event as the wire carries it. `body` is its typed data (protocol/events.py), parsed once and kept."""

    id: int
    ts: datetime
    type: str
    data: dict[str, Any] = Field(default_factory=dict)
    _body: Any = PrivateAttr(default=None)

    @property
    def body(self) -> AnyEvent:
        if self._body is None:
            from pa_console.protocol.events import parse_body  # events.py builds on this module's models

            self._body = parse_body(self.type, self.data)
        return cast("AnyEvent", self._body)

    @classmethod
    def of(cls, body: EventBody, *, id: int, ts: datetime) -> Event:
        """The envelope of a typed body (the agent's store and the tests build events this way)."""
        from pa_console.protocol.events import wire_data

        type_, data = wire_data(body)
        event = cls(id=id, ts=ts, type=type_, data=data)
        event._body = body
        return event


class SharedAddress(_Strict):
    # load_balancer: no address moves; `address` is this appliance's own, served while primary (issue 16).
    driver: Literal["loopback", "iproute2", "load_balancer"] = "loopback"
    address: str
    port: int = Field(default=8443, ge=1, le=65535)
    interface: str | None = Field(default=None, max_length=15)
    prefix_len: int = Field(default=24, ge=1, le=128)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError as exc:
            raise ValueError("must be an IP address such as 10.0.0.100") from exc

    @field_validator("interface")
    @classmethod
    def _interface(cls, value: str | None) -> str | None:
        # Passed to `ip ... dev NAME` and `arping -I NAME` (argument lists, never a shell): a Linux interface name,
        # and never one that starts with '-', which the tools could read as an option.
        if value is not None and not _INTERFACE.fullmatch(value):
            raise ValueError("must be a network interface name such as eth0 (letters, digits, '.', '_', ':', '@' "
                             "or '-', not starting with '-')")
        return value


_INTERFACE = re.compile(r"[A-Za-z0-9_.:@][A-Za-z0-9_.:@-]{0,14}")
TsigAlgorithm = Literal["hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", "hmac-md5"]
_DNS_LABELS = re.compile(r"^(?=.{1,253}\.?$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)"
                         r"(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$")


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError as exc:
        raise ValueError("must be an IP address such as 192.0.2.10") from exc


class _DnsSwingFields(BaseModel):
    """DNS swing (issue #9): at takeover, an RFC 2136 update points `record` at this appliance's `address`."""

    server: str = Field(min_length=1, max_length=253, description="the zone's primary (master) DNS server")
    port: int = Field(default=53, ge=1, le=65535)
    zone: str = Field(min_length=1, max_length=253, description="e.g. example.com")
    record: str = Field(min_length=1, max_length=253,
                        description="the site's name: relative to the zone ('pa'), absolute ('pa.example.com.'), "
                                    "or '@' for the zone's apex")
    ttl: int = Field(default=60, ge=1, le=86_400, description="short, so resolvers follow a swing quickly")
    tsig_key_name: str = Field(min_length=1, max_length=253)
    tsig_algorithm: TsigAlgorithm = "hmac-sha256"
    address: str = Field(description="this appliance's address, published when it becomes the primary; "
                                     "IPv4 sets the A record, IPv6 the AAAA record")
    timeout_s: float = Field(default=5.0, ge=0.5, le=60)

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        value = value.strip()
        if not is_valid_host(value):
            raise ValueError("must be a host name or an IP address")
        return value

    @field_validator("zone", "tsig_key_name")
    @classmethod
    def _dns_name(cls, value: str) -> str:
        value = value.strip()
        if not _DNS_LABELS.match(value):
            raise ValueError("must be a DNS name such as example.com")
        return value

    @field_validator("record")
    @classmethod
    def _record(cls, value: str) -> str:
        value = value.strip()
        if value != "@" and not _DNS_LABELS.match(value):
            raise ValueError("must be a DNS name such as pa (in the zone), pa.example.com. or @")
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return _ip(value)


class DnsSwing(_DnsSwingFields):
    """As stored and returned: the TSIG secret itself is never returned, only whether one is set."""

    model_config = ConfigDict(extra="ignore")
    tsig_secret_set: bool = False


class DnsSwingUpdate(_DnsSwingFields):
    """PUT body. `tsig_secret`: None (left out) keeps the stored secret, a new base64 secret replaces it."""

    model_config = ConfigDict(extra="forbid")
    # Write-only: stored apart from the settings (never in GET, events or logs).
    tsig_secret: str | None = Field(default=None, max_length=1024, repr=False)
    # Accepted and ignored, so that a GET's answer can be PUT back as it is.
    tsig_secret_set: bool | None = None

    @field_validator("tsig_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        try:
            raw = base64.b64decode(value, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise ValueError("must be the key's base64 secret, as in the 'secret' line of tsig-keygen's "
                             "output") from exc
        if len(raw) < 16:
            raise ValueError("is too short: use a secret of at least 128 bits (tsig-keygen makes 256)")
        return value


class NatSwing(_Strict):
    """NAT swing (issue #9): the administrator's command that points the firewall's NAT rule at the new primary.

    Run with an argument list (never a shell), environment variables PA_EVENT, PA_NEW_PRIMARY_NAME,
    PA_NEW_PRIMARY_ADDRESS, PA_OLD_PRIMARY_NAME, PA_APPLIANCE_NAME, PA_APPLIANCE_ADDRESS, PA_REASON (see
    docs/failover-methods.md), and a timeout."""

    command: list[str] = Field(min_length=1, max_length=64,
                               description="argument list; the first is the program's absolute path")
    address: str = Field(min_length=1, max_length=253,
                         description="this appliance's address as the firewall should forward to it")
    timeout_s: float = Field(default=30.0, ge=1, le=600)
    run_at_demotion: bool = Field(default=True, description="also run it (PA_EVENT=demotion) when this "
                                                            "appliance stops being the primary")

    @field_validator("command")
    @classmethod
    def _command(cls, values: list[str]) -> list[str]:
        if any(not v or "\x00" in v or len(v) > 4096 for v in values):
            raise ValueError("every argument must be non-empty text (at most 4096 characters)")
        if not values[0].startswith("/"):
            raise ValueError("the first argument must be the program's absolute path, such as "
                             "/usr/local/bin/nat-swing (the agent's PATH is not yours)")
        return values

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip()
        if not is_valid_host(value):
            raise ValueError("must be a host name or an IP address")
        return value


class TakeoverMethodCheck(_Model):
    """The readiness of one takeover method (shared address, DNS swing, NAT swing): a dry run, nothing changed."""

    method: str
    configured: bool
    ready: bool
    detail: str


class FailoverSettings(_Model):
    pull_interval_s: float = Field(default=300, ge=1, le=86_400)
    first_sync_delay_s: float = Field(default=60, ge=0, le=86_400)
    sync_enabled: bool = True
    primary_timeout_s: float = Field(default=300, ge=2, le=86_400)
    no_pull_alert_s: float = Field(default=3_600, ge=1, le=30 * 86_400)
    auto_failover: bool = False
    shared_address: SharedAddress | None = None
    probe_interval_s: float = Field(default=1.0, ge=0.1, le=60)
    dns_swing: DnsSwing | None = None
    nat_swing: NatSwing | None = None
    # host:port addresses the backup must all reach (TCP) before it may take over automatically, e.g. the gateway.
    witness: list[str] = Field(default_factory=list, max_length=8)
    # The scrub: every verify_interval_s (0: only on request and after an unclean stop), reading at most
    # verify_rate_mb_s so that it never starves the sync or the API.
    verify_interval_s: float = Field(default=86_400, ge=0, le=30 * 86_400)
    verify_rate_mb_s: float = Field(default=50, ge=1, le=10_000)


class FailoverSettingsUpdate(_Strict):
    """PUT body: every field optional; what is left out keeps its value. `shared_address: null` removes it."""

    pull_interval_s: float | None = Field(default=None, ge=1, le=86_400)
    first_sync_delay_s: float | None = Field(default=None, ge=0, le=86_400)
    sync_enabled: bool | None = None
    primary_timeout_s: float | None = Field(default=None, ge=2, le=86_400)
    no_pull_alert_s: float | None = Field(default=None, ge=1, le=30 * 86_400)
    auto_failover: bool | None = None
    shared_address: SharedAddress | None = None
    probe_interval_s: float | None = Field(default=None, ge=0.1, le=60)
    # Like shared_address: null removes the method, an object replaces it whole (except a left-out tsig_secret).
    dns_swing: DnsSwingUpdate | None = None
    nat_swing: NatSwing | None = None
    witness: list[str] | None = Field(default=None, max_length=8)

    @field_validator("witness")
    @classmethod
    def _witness_addresses(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            host, sep, port = item.rpartition(":")
            if not sep or not is_valid_host(host.strip("[]")) or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"witness {item[:80]!r} is not host:port (e.g. 192.0.2.1:443)")
        return value
    verify_interval_s: float | None = Field(default=None, ge=0, le=30 * 86_400)
    verify_rate_mb_s: float | None = Field(default=None, ge=1, le=10_000)


class RoleRequest(_Strict):
    role: Literal["primary", "backup"]
    sync_first: bool = False
    force: bool = False


class RoleResult(_Model):
    role: Role
    epoch: int
    detail: str


class SyncProgress(_Model):
    phase: str
    rows_done: int = 0
    rows_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    rate_bps: float = 0.0
    eta_s: float | None = None


class SyncReport(_Model):
    status: SyncStatus
    started_at: datetime
    finished_at: datetime | None = None
    rows_moved: int = 0
    bytes_moved: int = 0
    duration_s: float = 0.0
    digest_ok: bool | None = None
    primary_digest: str | None = None
    backup_digest: str | None = None
    error: str | None = None
    resumed: bool = False
    # Seconds spent in each phase (rows, recordings, applying), to see what a sync's time went to.
    phases_s: dict[str, float] = Field(default_factory=dict)
    # The primary's store and change number the applied copy reaches (the backup confirms them to the primary).
    primary_store: str | None = None
    primary_seq: int | None = None


class SyncStartResult(_Model):
    started: bool
    detail: str


Health.model_rebuild()
