"""TLS (issue 14, point 7): AEAD suites only, TLS 1.2+, a server certificate (CA:FALSE, key usage, EKU, SANs, 825
days), and pinning that works for new and old (CA:TRUE, ten-year) certificates, and after a certificate's end date."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pa_console.agent.identity import CERT_LIFETIME_DAYS
from pa_console.protocol.tls_pin import pinned_context


def _client(agent, **options) -> ssl.SSLContext:  # type: ignore[no-untyped-def]
    ctx = pinned_context(agent.cert_pem)
    for name, value in options.items():
        if name == "ciphers":
            ctx.set_ciphers(value)
        else:
            setattr(ctx, name, value)
    return ctx


def _handshake(agent, ctx: ssl.SSLContext) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with socket.create_connection((agent.host, agent.port), timeout=10) as sock, \
            ctx.wrap_socket(sock, server_hostname=agent.host) as tls:
        cipher = tls.cipher()
        assert cipher is not None
        return str(tls.version()), cipher[0]


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")  # we ask for TLS 1.0/1.1 to be refused
def test_the_agent_offers_aead_suites_only(agents) -> None:  # type: ignore[no-untyped-def]
    agent = agents("tls")
    assert _handshake(agent, _client(agent))[0] == "TLSv1.3"
    v12 = dict(maximum_version=ssl.TLSVersion.TLSv1_2)
    for suite in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"):
        assert _handshake(agent, _client(agent, ciphers=suite, **v12)) == ("TLSv1.2", suite)
    for suite in ("ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA",
                  "ECDHE-ECDSA-AES256-SHA"):  # CBC: LUCKY13's family
        with pytest.raises(ssl.SSLError):
            _handshake(agent, _client(agent, ciphers=suite, **v12))
    old = _client(agent, maximum_version=ssl.TLSVersion.TLSv1_1)
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        _handshake(agent, old)


def test_new_certificates_are_server_certificates(agents) -> None:  # type: ignore[no-untyped-def]
    cert = x509.load_pem_x509_certificate(agents("profile").cert_pem.encode())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == \
        [ExtendedKeyUsageOID.SERVER_AUTH]
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert life <= dt.timedelta(days=CERT_LIFETIME_DAYS) and CERT_LIFETIME_DAYS <= 825


def _certificate(ca: bool, not_before: dt.datetime, days: int) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before)
            .not_valid_after(not_before + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())


@contextmanager
def _tls_server(tmp: Path, cert_pem: str, key_pem: str) -> Iterator[int]:
    (tmp / "c.pem").write_text(cert_pem)
    (tmp / "k.pem").write_text(key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp / "c.pem", tmp / "k.pem")
    srv = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield srv.getsockname()[1]
    finally:
        srv.close()


NOW = dt.datetime.now(dt.UTC)
PINNED = [
    ("identity made before issue 14 (CA:TRUE, 10 years)", True, NOW - dt.timedelta(days=400), 3650),
    ("new profile (CA:FALSE)", False, NOW - dt.timedelta(minutes=5), 825),
    ("past its end date", False, NOW - dt.timedelta(days=900), 825),
]


@pytest.mark.parametrize(("what", "ca", "start", "days"), PINNED, ids=[p[0] for p in PINNED])
def test_pinning_works_for_old_new_and_expired_certificates(tmp_path: Path, what: str, ca: bool,
                                                            start: dt.datetime, days: int) -> None:
    cert, key = _certificate(ca, start, days)
    with _tls_server(tmp_path, cert, key) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock, \
                pinned_context(cert).wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            assert tls.recv(2) == b"ok"
        # ...and only that certificate: another one with the same name is refused.
        other, _ = _certificate(ca, start, days)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock, pytest.raises(ssl.SSLError):
            pinned_context(other).wrap_socket(sock, server_hostname="127.0.0.1")
