"""A flood of unauthenticated `/peer/hello` (issue 14, point 3): 13,489 hellos with ~19 KB certificates took an agent
from 78 to 361 MB. The pending handshakes are now bounded in count and expire on their own; the hello tells nothing
about a relationship before the caller proved the key."""

from __future__ import annotations

import datetime as dt
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pa_console.agent.peer import handshake
from tests.faults.support import make_pair
from tests.security.support import memory_kib


def big_certificate(target_chars: int = 19_000) -> str:
    """A valid self-signed certificate just under the hello's 20,000-character limit (many SANs)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flood")])
    now = dt.datetime.now(dt.UTC)
    sans = 100
    while True:
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + dt.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(
                    [x509.DNSName(f"host-{i:05d}.flood.example.com") for i in range(sans)]), critical=False)
                .sign(key, hashes.SHA256()))
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        if len(pem) >= target_chars - 400:
            return pem
        sans = int(sans * target_chars / len(pem)) - 5


def _hello_body(pem: str, version: str, schema: int) -> dict[str, object]:
    return {"nonce_p": handshake.new_nonce(), "primary_name": "flood", "version": version, "schema_version": schema,
            "primary_cert_pem": pem, "reverse": {"host": "127.0.0.1", "port": 1}, "epoch": 0}


def test_a_hello_flood_keeps_memory_bounded(agents) -> None:  # type: ignore[no-untyped-def]
    agent = agents("hello")
    assert agent.proc is not None
    pem = big_certificate()
    assert 18_000 < len(pem) <= 20_000
    h = agent.health()
    with agent.client(token="") as c:
        c.headers.pop("Authorization")
        # Warm up (first requests load code and caches), then measure.
        for _ in range(200):
            r = c.post("/api/v1/peer/hello", json=_hello_body(pem, h["version"], h["schema_version"]))
            assert r.status_code == 200
        before = memory_kib(agent.proc.pid)
        t0 = time.monotonic()
        n = 3000
        for _ in range(n):
            r = c.post("/api/v1/peer/hello", json=_hello_body(pem, h["version"], h["schema_version"]))
            assert r.status_code == 200, r.text
        took = time.monotonic() - t0
    after = memory_kib(agent.proc.pid)
    growth = (after["VmRSS"] - before["VmRSS"]) / 1024
    print(f"\n{n} hellos of {len(pem)} chars in {took:.0f} s: RSS {before['VmRSS'] / 1024:.0f} -> "
          f"{after['VmRSS'] / 1024:.0f} MB (+{growth:.1f} MB), peak {after['VmHWM'] / 1024:.0f} MB")
    # Unbounded, 3000 pending hellos of ~19 KB would hold >= 57 MB (more with the parsed copies).
    assert growth < 15, f"RSS grew by {growth:.0f} MB"
    assert agent.health()["name"] == "hello"


def test_hello_tells_an_unauthenticated_caller_nothing_of_the_relationship(agents) -> None:  # type: ignore[no-untyped-def]
    pair = make_pair(agents)
    try:
        b = pair.backup
        h = b.health()
        with b.client(token="") as c:
            c.headers.pop("Authorization")
            r = c.post("/api/v1/peer/hello", json=_hello_body(big_certificate(2000), h["version"],
                                                               h["schema_version"]))
        # The same answer as an unpaired appliance gives: a challenge, no refusal naming the peer.
        assert r.status_code == 200, r.text
        assert pair.primary.name not in r.text and "relationship" not in r.text
        assert set(r.json()) == {"nonce_b", "name", "version", "schema_version", "epoch", "proof"}
    finally:
        pair.stop()


def test_pending_handshakes_are_bounded_and_expire_on_their_own() -> None:
    pending = handshake.PendingHandshakes(ttl_s=0.2, max_pending=8)
    for i in range(100):
        pending.add(f"n{i}", {"i": i})
    assert len(pending) == 8 and pending.given_up == 92
    assert pending.take("n0") is None and pending.take("n99") == {"i": 99}
    assert pending.take("n99") is None  # answered once
    time.sleep(0.3)
    assert len(pending) == 0  # expired without another hello
    assert pending.take("n98") is None
