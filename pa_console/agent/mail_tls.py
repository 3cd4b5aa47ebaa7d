"""How the agent verifies an SMTP server's certificate: the system trust store, plus an optional CA file.

The system trust store through `truststore` (the OS's own verifier and CA list, what the administrator already
manages), and for a company relay whose CA is not there, a CA file given in the email settings (PEM), trusted in
addition. Verification is never turned off.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import truststore
from cryptography import x509


class CaFileError(ValueError):
    """A CA file that cannot be used, in one sentence."""


def check_ca_file(path: str) -> int:
    """The number of certificates in the PEM file; raises CaFileError saying what to do."""
    file = Path(path)
    if not file.is_absolute():
        raise CaFileError(f"The CA file {path!r} must be an absolute path on the appliance, such as "
                          "/etc/pa-agent/smtp-ca.pem.")
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise CaFileError(f"The CA file {path} does not exist on this appliance; copy the relay's CA certificate "
                          "(PEM) there, on both appliances.") from None
    except OSError as exc:
        raise CaFileError(f"The CA file {path} cannot be read ({exc.strerror}); make it readable by the pa-agent "
                          "user.") from None
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise CaFileError(f"The CA file {path} holds no PEM certificate; give the CA certificate in PEM form "
                          "(-----BEGIN CERTIFICATE-----).") from None
    return len(certificates)


def smtp_tls_context(ca_file: str = "") -> ssl.SSLContext:
    """The context for STARTTLS and implicit TLS: system trust store, plus the CA file when one is set."""
    ctx = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file:
        check_ca_file(ca_file)
        ctx.load_verify_locations(cafile=ca_file)
    return ctx


def describe_verification(ca_file: str) -> str:
    return "the system trust store" + (f" and the CA file {ca_file}" if ca_file else "")
