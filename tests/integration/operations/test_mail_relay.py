"""Mail through a company relay: STARTTLS with a certificate from a company CA, given as the CA file (issue 16).

A real aiosmtpd server requiring STARTTLS, its certificate signed by a test CA; a real agent sending to it."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import os
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.harness import RunningAgent, free_port, init_agent


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca_and_server(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA (ca.pem) and a server certificate it signed for 127.0.0.1 (server.pem, server.key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Example Corp Test CA")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("relay.example.com")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("relay.example.com"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_pem, server_pem, server_key = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    server_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    server_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    return ca_pem, server_pem, server_key


class Relay:
    """An SMTP relay that requires STARTTLS and refuses mail for anyone at blocked.example.com."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.port = free_port()
        self.received: list[email.message.EmailMessage] = []
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(cert, key)
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, tls_context=tls,
                                     require_starttls=True, loop=asyncio.SelectorEventLoop())

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.endswith("@blocked.example.com"):
            return "554 5.7.1 <" + address + ">: Relay access denied."
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(message)  # type: ignore[arg-type]
        return "250 2.0.0 Ok: queued as 4XyZ"

    def config(self, **extra: Any) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "security": "starttls", "sender": "pa@example.com",
                "recipients": ["admin@example.com"]} | extra


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[tuple[Relay, Path]]:
    ca_pem, cert, key = make_ca_and_server(tmp_path)
    server = Relay(cert, key)
    server.controller.start()
    try:
        yield server, ca_pem
    finally:
        server.controller.stop()


def _sentence(text: str) -> None:
    assert text.endswith(".") and ".." not in text and "SMTP" + "RecipientRefused(" not in text
    assert "[" not in text and "(554, " not in text, text


def test_a_company_relay_with_its_ca_file(agents: Callable[..., RunningAgent], relay: tuple[Relay, Path]) -> None:
    server, ca_pem = relay
    alpha = agents("alpha")
    # Without the CA file the relay's certificate is not trusted: refused, in a sentence that says what to do.
    assert alpha.request("PUT", "/api/v1/email", json=server.config()).status_code == 200
    got = alpha.get("/api/v1/email")
    assert got["verification"] == "the server's certificate is verified against the system trust store"
    result = alpha.request("POST", "/api/v1/email/test").json()
    assert result["ok"] is False and "does not trust" in result["message"] and "CA file" in result["message"]
    _sentence(result["message"])
    assert server.received == []

    # With the CA file: sent over STARTTLS, and the pane's verification sentence names the file.
    r = alpha.request("PUT", "/api/v1/email", json=server.config(ca_file=str(ca_pem)))
    assert r.status_code == 200 and r.json()["ca_file"] == str(ca_pem)
    assert r.json()["verification"].endswith(f"the system trust store and the CA file {ca_pem}")
    result = alpha.request("POST", "/api/v1/email/test").json()
    assert result == {"ok": True, "code": 250, "message": "2.0.0 Ok: queued as 4XyZ."}, result
    assert len(server.received) == 1 and "test message" in str(server.received[0]["Subject"])

    # The PEM text itself works too (it then travels to the backup with the sync).
    r = alpha.request("PUT", "/api/v1/email", json=server.config(ca_file=ca_pem.read_text()))
    assert r.status_code == 200 and "CN=Example Corp Test CA" in r.json()["verification"], r.text
    result = alpha.request("POST", "/api/v1/email/test").json()
    assert result["ok"] is True and len(server.received) == 2, result

    # A refused recipient: the server's code and text in a sentence, no Python repr, no double full stop.
    r = alpha.request("PUT", "/api/v1/email", json=server.config(ca_file=str(ca_pem),
                                                                  recipients=["x@blocked.example.com"]))
    result = alpha.request("POST", "/api/v1/email/test").json()
    assert result["ok"] is False and "554 5.7.1 <x@blocked.example.com>: Relay access denied" in result["message"]
    _sentence(result["message"])
    r = alpha.request("PUT", "/api/v1/email", json=server.config(
        ca_file=str(ca_pem), recipients=["admin@example.com", "y@blocked.example.com"]))
    result = alpha.request("POST", "/api/v1/email/test").json()
    assert result["ok"] is False and "refused some recipients: y@blocked.example.com (554" in result["message"]
    _sentence(result["message"])


def test_the_system_trust_store_is_used(tmp_path: Path, relay: tuple[Relay, Path]) -> None:
    """The relay's CA in the system trust store (here through OpenSSL's SSL_CERT_FILE) is enough: no CA file."""
    server, ca_pem = relay
    agent = init_agent(tmp_path, "sys")
    agent.extra_env = {"SSL_CERT_FILE": str(ca_pem)}
    agent.start()
    try:
        assert agent.request("PUT", "/api/v1/email", json=server.config()).status_code == 200
        result = agent.request("POST", "/api/v1/email/test").json()
        assert result["ok"] is True and result["code"] == 250, result
    finally:
        agent.kill()


@pytest.mark.parametrize(("ca_file", "words"), [
    ("relative/ca.pem", "absolute path"),
    ("/nonexistent/ca.pem", "does not exist on this appliance"),
    ("/etc/passwd", "holds no PEM certificate"),
    ("/dev/zero", "not a regular file"),
    ("/etc", "not a regular file"),
    ("FIFO", "not a regular file"),
    ("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", "holds no PEM certificate"),
])
def test_a_bad_ca_file_is_refused_in_a_sentence(agents: Callable[..., RunningAgent], relay: tuple[Relay, Path],
                                                ca_file: str, words: str) -> None:
    server, _ = relay
    alpha = agents("alpha")
    if ca_file == "FIFO":
        ca_file = str(alpha.data_dir / "ca.fifo")
        os.mkfifo(ca_file)
    r = alpha.request("PUT", "/api/v1/email", json=server.config(ca_file=ca_file))
    assert r.status_code == 422 and words in r.json()["detail"], r.text
    assert alpha.get("/api/v1/email")["host"] == ""  # nothing was saved
