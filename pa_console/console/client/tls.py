"""Certificate pinning: fetch a certificate on first contact, show its fingerprint, pin it from then on."""

from __future__ import annotations

import asyncio
import socket
import ssl

from pa_console.console.client.errors import AgentError, ErrorCategory
from pa_console.console.fingerprints import fingerprint_of_der, normalize_fingerprint
from pa_console.protocol.tls_pin import pinned_context as pin

__all__ = [
    "fetch_certificate",
    "fingerprint_of_der",
    "fingerprint_of_pem",
    "normalize_fingerprint",
    "pinned_context",
]


def fingerprint_of_pem(pem: str) -> str:
    return fingerprint_of_der(ssl.PEM_cert_to_DER_cert(pem))


def pinned_context(cert_pem: str) -> ssl.SSLContext:
    """Trust exactly this one certificate; names do not matter since the certificate itself is pinned."""
    return pin(cert_pem)


def _fetch_blocking(host: str, port: int, timeout: float) -> str:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    if not der:
        raise AgentError(ErrorCategory.TLS, f"{host}:{port} presented no certificate.")
    return ssl.DER_cert_to_PEM_cert(der)


async def fetch_certificate(host: str, port: int, timeout: float = 5.0) -> str:
    """The certificate the agent presents, as PEM, unverified (first contact: trust on first use)."""
    where = f"{host}:{port}"
    try:
        return await asyncio.to_thread(_fetch_blocking, host, port, timeout)
    except AgentError:
        raise
    except ssl.SSLError as exc:
        raise AgentError(ErrorCategory.TLS, f"{where} does not speak TLS as expected ({exc.reason or exc}).") from exc
    except TimeoutError as exc:
        raise AgentError(ErrorCategory.CONNECTION, f"{where} did not answer in time.") from exc
    except OSError as exc:
        raise AgentError(
            ErrorCategory.CONNECTION,
            f"Cannot connect to {where} ({exc.strerror or exc}); check the address and that the agent runs.",
        ) from exc
