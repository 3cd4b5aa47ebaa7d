"""The appliance's identity: TLS key and self-signed certificate, admin API token, Inter-Appliance key."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pa_console.agent.paths import DataDir


class IdentityError(Exception):
    """A problem with DATA_DIR's identity, phrased for the administrator."""


@dataclass
class Identity:
    data_dir: DataDir
    name: str
    api_token: str
    cert_pem: str

    @property
    def fingerprint(self) -> str:
        return cert_fingerprint(self.cert_pem)

    def ia_key(self) -> bytes:
        return self.data_dir.ia_key.read_text().strip().encode()

    def set_ia_key(self, key: str) -> None:
        _write_secret(self.data_dir.ia_key, key.strip() + "\n")

    def key_fingerprint(self) -> str:
        return key_fingerprint(self.ia_key())


def cert_fingerprint(cert_pem: str) -> str:
    """SHA-256 of the certificate's DER, as browsers and SSH show it (AB:CD:...)."""
    der = x509.load_pem_x509_certificate(cert_pem.encode()).public_bytes(serialization.Encoding.DER)
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def key_fingerprint(key: bytes) -> str:
    """A fingerprint of the Inter-Appliance key that reveals nothing of it (keyed hash, 128 bits shown)."""
    digest = hmac.new(key, b"pa-console inter-appliance key fingerprint v1", hashlib.sha256).digest()
    return ":".join(f"{b:02X}" for b in digest[:16])


def generate_ia_key() -> str:
    return secrets.token_hex(32)


def _write_secret(path: Path, text: str) -> None:
    """Create with 0600 from the start (no window where the secret is readable by others), then replace."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _make_certificate(name: str, extra_sans: list[str]) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pa-agent")])
    dns = {"localhost", socket.gethostname()}
    ips: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = {ipaddress.ip_address("127.0.0.1"),
                                                                ipaddress.ip_address("::1")}
    for san in extra_sans:
        try:
            ips.add(ipaddress.ip_address(san))
        except ValueError:
            dns.add(san)
    alt: list[x509.GeneralName] = [x509.DNSName(d) for d in sorted(dns)]
    alt += [x509.IPAddress(ip) for ip in sorted(ips, key=str)]
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        # ca=True: the certificate is its own trust anchor when a client pins it.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def create_identity(data_dir: DataDir, name: str, key_file: Path | None, sans: list[str]) -> Identity:
    if data_dir.identity.exists():
        raise IdentityError(f"{data_dir.root} already holds an appliance identity; "
                            "choose another folder or remove it first if you really mean to start over.")
    if key_file is not None:
        try:
            ia_key = key_file.read_text().strip()
        except OSError as exc:
            raise IdentityError(f"Cannot read the key file {key_file}: {exc.strerror}.") from exc
        if len(ia_key) < 32:
            raise IdentityError(f"The key in {key_file} is too short; use at least 32 characters "
                                "(pa-agent makes 64 hex digits).")
    else:
        ia_key = generate_ia_key()
    data_dir.root.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir.root, 0o700)
    data_dir.cert.parent.mkdir(mode=0o700, exist_ok=True)
    cert_pem, key_pem = _make_certificate(name, sans)
    _write_secret(data_dir.key, key_pem.decode())
    data_dir.cert.write_bytes(cert_pem)
    _write_secret(data_dir.ia_key, ia_key + "\n")
    token = secrets.token_urlsafe(32)
    # identity.json last: its presence marks a complete identity.
    _write_secret(data_dir.identity, json.dumps({"name": name, "api_token": token}, indent=2) + "\n")
    return Identity(data_dir, name, token, cert_pem.decode())


def check_permissions(data_dir: DataDir) -> None:
    """Refuse an identity whose secret files others can read: the token or key may already have leaked."""
    for path in data_dir.secret_files():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise IdentityError(f"{path} can be read by other users (mode {mode:o}); "
                                f"run 'chmod 600 {path}' and check who may have copied it.")


def load_identity(data_dir: DataDir, *, check: bool = True) -> Identity:
    if not data_dir.identity.exists():
        raise IdentityError(f"{data_dir.root} holds no appliance identity; run 'pa-agent init {data_dir.root}' first.")
    if check:
        check_permissions(data_dir)
    doc = json.loads(data_dir.identity.read_text())
    return Identity(data_dir, doc["name"], doc["api_token"], data_dir.cert.read_text())
