"""The appliance's identity: TLS key and self-signed certificate, admin API token, Inter-Appliance key."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import socket
import stat
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pa_console.agent.paths import DataDir
from pa_console.protocol.models import is_valid_host
from pa_console.protocol.validation import KEY_FILE_MAX_BYTES, appliance_name_problem, key_problem


class IdentityError(Exception):
    """A problem with DATA_DIR's identity, phrased for the administrator."""


@dataclass
class Identity:
    data_dir: DataDir
    name: str
    api_token: str
    cert_pem: str
    # The Inter-Appliance key, kept in memory: reading its file on every health call cost a descriptor each and
    # failed with EMFILE under many connections (issue 14). Re-read only when the file changed (a stat, no open).
    _ia_key: bytes | None = field(default=None, repr=False)
    _ia_stamp: tuple[int, int, int] | None = field(default=None, repr=False)
    _fingerprint: str | None = field(default=None, repr=False)
    _write_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = cert_fingerprint(self.cert_pem)
        return self._fingerprint

    def ia_key(self) -> bytes:
        """The key; IdentityError (a sentence) if its file is missing or holds no usable key: an emptied file must
        never become an empty HMAC key that anyone can prove (checked on each re-read, not only at start)."""
        try:
            st = os.stat(self.data_dir.ia_key)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if self._ia_key is None or stamp != self._ia_stamp:
                self._ia_key = _usable_ia_key(self.data_dir.ia_key, self.data_dir.ia_key.read_bytes())
                self._ia_stamp = stamp
        except OSError as exc:
            raise IdentityError(f"The Inter-Appliance key file {self.data_dir.ia_key} cannot be read "
                                f"({exc.strerror}); {_SET_KEY}") from exc
        return self._ia_key

    def set_ia_key(self, key: str) -> None:
        with self._write_lock:  # API calls run on worker threads: one key change at a time, cache cleared after
            _write_secret(self.data_dir.ia_key, key.strip() + "\n")
            self._ia_key = None

    def key_fingerprint(self) -> str:
        return key_fingerprint(self.ia_key())


_SET_KEY = ("write the key (64 hex digits, the same on both appliances, e.g. from 'openssl rand -hex 32') into it "
            "with mode 0600, then try again.")


def _usable_ia_key(path: Path, raw: bytes) -> bytes:
    try:
        key = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        key = raw.decode("latin-1").strip()
    problem = key_problem(key)
    if problem:
        where = problem.replace("The Inter-Appliance key", f"The Inter-Appliance key in {path}", 1)
        raise IdentityError(f"{where.removesuffix('.')}; {_SET_KEY}")
    return key.encode()


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
    """Create with 0600 from the start (no window where the secret is readable by others), then replace.

    A temporary file of its own per write (mkstemp: 0600, a unique name): with one shared name, twelve key
    generations at once answered 500 to most callers, and the key left on disk was none of those answered."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# Why this lifetime: nothing trusts this certificate because of its dates. The console and the peer pin the whole
# certificate and do not check its end date (protocol/tls_pin.py), so an appliance never loses its peer, and never
# fails over, because a date passed. The lifetime is there for scanners and policies: 825 days in all is the longest
# testssl.sh (and Apple's rule for certificates outside the public Web PKI) accepts. See docs/reliability.md.
CERT_LIFETIME_DAYS = 825


def _make_certificate(name: str, extra_sans: list[str]) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pa-agent")])
    dns = {"localhost", socket.gethostname()}
    ips: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = {ipaddress.ip_address("127.0.0.1"),
                                                                ipaddress.ip_address("::1")}
    for san in (s.strip() for s in extra_sans):
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
        .not_valid_before(now - dt.timedelta(minutes=5))  # a peer whose clock is a little behind
        .not_valid_after(now - dt.timedelta(minutes=5) + dt.timedelta(days=CERT_LIFETIME_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        # A server certificate, not a CA (issue 14: scanners flag CA:TRUE on a leaf). Pinning still works: OpenSSL
        # takes a self-signed certificate in the trust store as its own anchor, and our pinned contexts also set
        # VERIFY_X509_PARTIAL_CHAIN, which makes exactly that certificate the anchor whatever the library version.
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def read_key_file(path: Path) -> str:
    """The Inter-Appliance key from a file: a regular file of at most a few KiB holding one printable, random-enough
    key (issue 14: /dev/zero was read until MemoryError, and 40 NUL bytes were taken as a key)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # O_NONBLOCK: a FIFO must not hang init
    except OSError as exc:
        raise IdentityError(f"Cannot read the key file {path}: {exc.strerror}.") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IdentityError(f"The key file {path} is not a regular file; put the key (64 hex digits, e.g. from "
                                "'openssl rand -hex 32') in a file and give that.")
        raw = os.read(fd, KEY_FILE_MAX_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > KEY_FILE_MAX_BYTES:
        raise IdentityError(f"The key file {path} is larger than {KEY_FILE_MAX_BYTES} bytes; it should hold only "
                            "the key (64 hex digits).")
    try:
        key = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        key = raw.decode("latin-1").strip()  # key_problem names what is wrong with it
    problem = key_problem(key)
    if problem:
        raise IdentityError(f"{problem.removesuffix('.')} (in {path}).")
    return key


def create_identity(data_dir: DataDir, name: str, key_file: Path | None, sans: list[str]) -> Identity:
    if data_dir.identity.exists():
        raise IdentityError(f"{data_dir.root} already holds an appliance identity; "
                            "choose another folder or remove it first if you really mean to start over.")
    problem = appliance_name_problem(name)
    if problem:
        raise IdentityError(problem)
    for san in sans:
        if not is_valid_host(san.strip()):
            # A name with a space, a non-ASCII name or an address with a prefix made a certificate no client could
            # match (or a traceback from the certificate library).
            raise IdentityError(f"The --san value {san[:80]!r} is neither a host name nor an IP address; give a name "
                                "such as pa.example.com (non-ASCII names in their xn-- form) or an address such as "
                                "192.0.2.10.")
    ia_key = read_key_file(key_file) if key_file is not None else generate_ia_key()
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


def _check_complete(data_dir: DataDir, paths: list[Path]) -> None:
    for path in paths:
        if not path.is_file():
            raise IdentityError(f"The appliance identity in {data_dir.root} is incomplete: "
                                f"{path.relative_to(data_dir.root)} is missing; restore DATA_DIR from a backup copy, "
                                "or make a new identity in an empty folder with 'pa-agent init'.")


def load_identity(data_dir: DataDir, *, check: bool = True) -> Identity:
    """With `check` (serving, and commands that change DATA_DIR): every secret file present, private, and the
    Inter-Appliance key usable."""
    if not data_dir.identity.exists():
        raise IdentityError(f"{data_dir.root} holds no appliance identity; run 'pa-agent init {data_dir.root}' first.")
    _check_complete(data_dir, [data_dir.cert, *data_dir.secret_files()] if check else [data_dir.cert])
    if check:
        check_permissions(data_dir)
    try:
        doc = json.loads(data_dir.identity.read_text())
        name, token = str(doc["name"]), str(doc["api_token"])
        cert_pem = data_dir.cert.read_text()
        cert_fingerprint(cert_pem)
    except (ValueError, KeyError, TypeError) as exc:
        raise IdentityError(f"The appliance identity in {data_dir.root} is damaged ({data_dir.identity.name} or "
                            f"tls/cert.pem cannot be read); restore DATA_DIR from a backup copy, or make a new "
                            f"identity in an empty folder with 'pa-agent init'.") from exc
    identity = Identity(data_dir, name, token, cert_pem)
    if check:
        identity.ia_key()  # IdentityError with a sentence for an empty or garbled key file
    return identity
