"""The command API's XML answers, shaped as BeyondTrust's (`check_health`, `<success>`, `<error>`).

Built with ElementTree so that names and sentences are always escaped correctly."""

from __future__ import annotations

import datetime as dt
import uuid
import xml.etree.ElementTree as ET

from pa_console.agent.compat.health_check import HealthVerdict
from pa_console.protocol.models import Health, Role, SharedAddress

# BeyondTrust's failover_role: "none" when failover is not configured.
FAILOVER_ROLE = {Role.STANDALONE: "none", Role.PRIMARY: "primary", Role.BACKUP: "backup"}


def appliance_id(fingerprint: str) -> str:
    """A GUID for the appliance, as BeyondTrust's `id`: stable for as long as the appliance's identity."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pa-agent:{fingerprint}"))


def _document(root: ET.Element) -> bytes:
    document: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return document


def check_health(health: Health, verdict: HealthVerdict, shared: SharedAddress | None) -> bytes:
    root = ET.Element("check_health")
    ET.SubElement(root, "appliance", id=appliance_id(health.fingerprint_sha256 or health.name)).text = health.name
    ET.SubElement(root, "version").text = health.version
    ET.SubElement(root, "success").text = "1" if verdict.ok else "0"
    if not verdict.ok:
        ET.SubElement(root, "error_message").text = verdict.sentence
    ET.SubElement(root, "failover_role").text = FAILOVER_ROLE[health.role]
    if health.role == Role.STANDALONE:
        return _document(root)  # as BeyondTrust: no shared IPs nor sync when failover is not configured
    if shared is not None and shared.driver != "load_balancer":
        ips = ET.SubElement(root, "enabled_shared_ips")
        ET.SubElement(ips, "ip").text = shared.address
    synced_at = health.last_sync_at
    if synced_at is not None:
        synced_at = synced_at if synced_at.tzinfo else synced_at.replace(tzinfo=dt.UTC)
        ET.SubElement(root, "last_data_sync_time", ts=str(int(synced_at.timestamp()))).text = \
            synced_at.astimezone(dt.UTC).isoformat(timespec="seconds")
    ET.SubElement(root, "last_data_sync_status").text = health.last_sync_status.value
    return _document(root)


def success(sentence: str) -> bytes:
    root = ET.Element("success")
    root.text = sentence
    return _document(root)


def error(sentence: str) -> bytes:
    root = ET.Element("error")
    root.text = sentence
    return _document(root)
