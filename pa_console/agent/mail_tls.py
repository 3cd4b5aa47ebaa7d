"""How the agent verifies an SMTP server's certificate: the system trust store, plus an optional CA file.

The system trust store through `truststore` (the OS's own verifier and CA list, what the administrator already
manages), and for a company relay whose CA is not there, a CA file given in the email settings (PEM), trusted in
addition. Verification is never turned off.
"""

from __future__ import annotations

import os
import ssl
import stat
from pathlib import Path

import truststore
from cryptography import x509


class CaFileError(ValueError):
    """A CA file that cannot be used, in one sentence."""


PEM_MARK = "-----BEGIN CERTIFICATE-----"
MAX_CA_FILE_BYTES = 1024 * 1024  # a CA bundle of a few hundred certificates


def _is_pem(value: str) -> bool:
    return value.lstrip().startswith(PEM_MARK)


def _certificates(data: bytes, what: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise CaFileError(f"{what} holds no PEM certificate; give the CA certificate in PEM form "
                          "(-----BEGIN CERTIFICATE-----).") from None


def check_ca_file(value: str) -> int:
    """The number of certificates in the CA file (a path, or the PEM text); raises CaFileError saying what to do."""
    if _is_pem(value):
        return len(_certificates(value.encode(), "The CA certificate given"))
    file = Path(value)
    if not file.is_absolute():
        raise CaFileError(f"The CA file {value!r} must be an absolute path on the appliance, such as "
                          "/etc/pa-agent/smtp-ca.pem, or the PEM text itself.")
    try:
        # Only a regular file of reasonable size: never a device, FIFO or /proc file that would block or not end.
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
        with os.fdopen(os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise CaFileError(f"The CA file {value} is not a regular file; give the path of a PEM file.")
            data = handle.read(MAX_CA_FILE_BYTES + 1)
        if len(data) > MAX_CA_FILE_BYTES:
            raise CaFileError(f"The CA file {value} is larger than {MAX_CA_FILE_BYTES // 1024} KiB; give only the "
                              "relay's CA certificates.")
    except FileNotFoundError:
        raise CaFileError(f"The CA file {value} does not exist on this appliance; copy the relay's CA certificate "
                          "(PEM) there, on both appliances, or give the PEM text itself.") from None
    except IsADirectoryError:
        raise CaFileError(f"The CA file {value} is not a regular file; give the path of a PEM file.") from None
    except OSError as exc:
        raise CaFileError(f"The CA file {value} cannot be read ({exc.strerror}); make it readable by the pa-agent "
                          "user.") from None
    return len(_certificates(data, f"The CA file {value}"))


def smtp_tls_context(ca_file: str = "") -> ssl.SSLContext:
    """The context for STARTTLS and implicit TLS: system trust store, plus the CA file when one is set."""
    ctx = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file:
        check_ca_file(ca_file)
        if _is_pem(ca_file):
            ctx.load_verify_locations(cadata=ca_file)
        else:
            ctx.load_verify_locations(cafile=ca_file)
    return ctx


def describe_verification(ca_file: str) -> str:
    if not ca_file:
        return "the system trust store"
    if _is_pem(ca_file):
        try:
            subjects = [c.subject.rfc4514_string() for c in x509.load_pem_x509_certificates(ca_file.encode())]
        except ValueError:
            subjects = []
        return "the system trust store and the CA certificate given in the settings" + \
            (f" ({'; '.join(subjects)})" if subjects else "")
    return f"the system trust store and the CA file {ca_file}"
