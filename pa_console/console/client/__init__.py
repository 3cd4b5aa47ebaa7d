"""The console's edge to the agents: one pinned HTTPS client per appliance, errors mapped once."""

from pa_console.console.client.agent_client import AgentClient
from pa_console.console.client.errors import AgentError, ErrorCategory
from pa_console.console.client.tls import fetch_certificate, fingerprint_of_pem, normalize_fingerprint

__all__ = [
    "AgentClient",
    "AgentError",
    "ErrorCategory",
    "fetch_certificate",
    "fingerprint_of_pem",
    "normalize_fingerprint",
]
