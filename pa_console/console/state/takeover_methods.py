"""DNS swing and NAT swing as the console's form holds them: typed from raw field values, errors per field, and
the part of a settings PUT that changed (issue #9). Qt-free: the form and the unit tests use it alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pydantic

from pa_console.protocol.models import (
    DnsSwing,
    DnsSwingUpdate,
    FailoverSettings,
    NatSwing,
    TakeoverMethodCheck,
    TsigAlgorithm,
    is_valid_host,
)

TSIG_ALGORITHMS: tuple[TsigAlgorithm, ...] = (
    "hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", "hmac-md5",
)
METHOD_TITLES = {"shared_address": "Shared address", "dns_swing": "DNS swing", "nat_swing": "NAT swing"}

# field name -> sentence
FieldErrors = dict[str, str]


@dataclass(frozen=True)
class DnsFields:
    """The DNS swing fields as typed. `secret` empty keeps the stored one (write-only)."""

    server: str
    port: int
    zone: str
    record: str
    ttl: int
    tsig_key_name: str
    tsig_algorithm: str
    secret: str
    address: str
    timeout_s: float = 5.0


@dataclass(frozen=True)
class NatFields:
    command_text: str  # one argument per line
    address: str
    timeout_s: float
    run_at_demotion: bool = True


def arguments(text: str) -> list[str]:
    """One argument per line (never a shell string): blank lines are dropped, each line trimmed."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _messages(exc: pydantic.ValidationError) -> FieldErrors:
    errors: FieldErrors = {}
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else ""
        message = str(err["msg"]).removeprefix("Value error, ")
        errors.setdefault(name, message[:1].upper() + message[1:] + ("" if message.endswith(".") else "."))
    return errors


def dns_swing_from(fields: DnsFields, *, secret_stored: bool) -> DnsSwingUpdate | FieldErrors:
    """The DNS swing to send, or what is wrong, per field (validated as the agent will)."""
    errors: FieldErrors = {}
    if not fields.server.strip():
        errors["server"] = "Enter the DNS server that accepts updates for the zone."
    elif not is_valid_host(fields.server.strip()):
        errors["server"] = f"“{fields.server.strip()}” is not a host name or an IP address."
    if not fields.zone.strip():
        errors["zone"] = "Enter the zone, such as example.com."
    if not fields.record.strip():
        errors["record"] = "Enter the site's name in the zone, such as pa (or @ for the zone itself)."
    if not fields.tsig_key_name.strip():
        errors["tsig_key_name"] = "Enter the TSIG key's name, as tsig-keygen printed it."
    if not fields.address.strip():
        errors["address"] = "Enter this appliance's address, published when it becomes the primary."
    if not fields.secret.strip() and not secret_stored:
        errors["tsig_secret"] = "Enter the TSIG key's secret (no secret is stored on the appliance yet)."  # noqa: S105
    values: dict[str, Any] = {
        "server": fields.server, "port": fields.port, "zone": fields.zone, "record": fields.record,
        "ttl": fields.ttl, "tsig_key_name": fields.tsig_key_name, "tsig_algorithm": fields.tsig_algorithm,
        "address": fields.address, "timeout_s": fields.timeout_s,
    }
    if fields.secret.strip():
        values["tsig_secret"] = fields.secret
    try:
        model = DnsSwingUpdate(**values)
    except pydantic.ValidationError as exc:
        for name, message in _messages(exc).items():
            errors.setdefault(name, message)
        return errors
    return errors or model


def nat_swing_from(fields: NatFields) -> NatSwing | FieldErrors:
    errors: FieldErrors = {}
    command = arguments(fields.command_text)
    if not command:
        errors["command"] = "Enter the command, one argument per line; the first is the program's absolute path."
    if not fields.address.strip():
        errors["address"] = "Enter this appliance's address as the firewall should forward to it."
    try:
        model = NatSwing(command=command, address=fields.address, timeout_s=fields.timeout_s,
                         run_at_demotion=fields.run_at_demotion)
    except pydantic.ValidationError as exc:
        for name, message in _messages(exc).items():
            errors.setdefault(name, message)
        return errors
    return errors or model


def _same_dns(update: DnsSwingUpdate, stored: DnsSwing | None) -> bool:
    if stored is None or update.tsig_secret is not None:
        return False
    mine = update.model_dump(exclude={"tsig_secret", "tsig_secret_set"})
    return mine == stored.model_dump(exclude={"tsig_secret_set"})


def method_changes(
    loaded: FailoverSettings | None, dns: DnsSwingUpdate | None, nat: NatSwing | None
) -> dict[str, Any]:
    """The `dns_swing` / `nat_swing` part of a partial PUT: only what changed; None removes a method."""
    changes: dict[str, Any] = {}
    stored_dns = loaded.dns_swing if loaded is not None else None
    stored_nat = loaded.nat_swing if loaded is not None else None
    if dns is None:
        if stored_dns is not None:
            changes["dns_swing"] = None
    elif not _same_dns(dns, stored_dns):
        changes["dns_swing"] = dns
    if nat != stored_nat:
        changes["nat_swing"] = nat
    return changes


def field_of_agent_error(field: str | None, message: str) -> tuple[str, str] | None:
    """(method, field) that an agent's refusal is about, from its `field` (e.g. "dns_swing.server") or words."""
    if field:
        head, _, rest = field.partition(".")
        if head in ("dns_swing", "nat_swing"):
            return head, rest.split(".")[0]
    lowered = message.lower()
    if "dns swing" in lowered or "tsig" in lowered or "dns_swing" in lowered:
        return "dns_swing", ""
    if "nat swing" in lowered or "nat_swing" in lowered:
        return "nat_swing", ""
    return None


def check_line(check: TakeoverMethodCheck) -> str:
    """One method's readiness in words."""
    title = METHOD_TITLES.get(check.method, check.method)
    if not check.configured:
        return f"{title}: not configured."
    detail = check.detail.rstrip(".")
    if check.ready:
        return f"{title}: {detail}."
    return f"{title} is NOT ready: {detail}."
