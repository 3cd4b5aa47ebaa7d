"""TLS to a peer: fetch its certificate on first contact, then pin exactly that certificate."""

from __future__ import annotations

import asyncio
import socket
import ssl

from pa_console.protocol.tls_pin import pinned_context as pin


class PeerUnreachable(Exception):
    pass


def pinned_context(cert_pem: str) -> ssl.SSLContext:
    """Trust exactly one certificate. Host names are not checked: the pin is the whole certificate, and
    administrators reach appliances by addresses (NAT, IPs) that a self-signed certificate cannot all name."""
    return pin(cert_pem)


def _fetch(host: str, port: int, timeout: float) -> str:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # only to read the certificate, which is then pinned and proven by HMAC
    with socket.create_connection((host, port), timeout=timeout) as sock, \
            ctx.wrap_socket(sock, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError("no certificate presented")
    return ssl.DER_cert_to_PEM_cert(der)


def describe_connect_error(exc: BaseException, what: str, host: str, port: int) -> str:
    where = f"{host}:{port}"
    if isinstance(exc, socket.gaierror):
        return f"Cannot resolve {host!r} ({what}); check the host name."
    if isinstance(exc, ConnectionRefusedError):
        return f"Nothing accepts connections at {where} ({what}); check that pa-agent serves there and the port."
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"{what.capitalize()} at {where} did not answer in time; check the address and any firewall."
    if isinstance(exc, ssl.SSLError):
        return (f"TLS with {where} failed ({what}): {exc.reason or exc}; check that this is a pa-agent port "
                "and not another service.")
    if isinstance(exc, OSError):
        return f"Cannot reach {what} at {where}: {exc.strerror or exc or 'the connection was closed'}."
    return f"Cannot reach {what} at {where}: {exc}."


async def fetch_certificate(host: str, port: int, what: str, timeout: float = 5.0) -> str:
    try:
        return await asyncio.to_thread(_fetch, host, port, timeout)
    except (OSError, ssl.SSLError) as exc:
        raise PeerUnreachable(describe_connect_error(exc, what, host, port)) from exc
