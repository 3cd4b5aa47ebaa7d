"""Challenge/response proof that both appliances hold the same Inter-Appliance key; the key never crosses the wire.

Each proof is an HMAC over fresh nonces from both sides and over the fingerprints of both TLS certificates as each
side saw them, so a proof cannot be replayed and a man in the middle (who must present another certificate) fails."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any


def new_nonce() -> str:
    return secrets.token_hex(32)


def _mac(key: bytes, label: str, *parts: str) -> str:
    return hmac.new(key, "|".join((label, *parts)).encode(), hashlib.sha256).hexdigest()


def backup_proof(key: bytes, nonce_p: str, nonce_b: str, fp_primary: str, fp_backup: str) -> str:
    return _mac(key, "pa-establish-backup-v1", nonce_p, nonce_b, fp_primary, fp_backup)


def primary_proof(key: bytes, nonce_p: str, nonce_b: str, fp_primary: str, fp_backup: str) -> str:
    return _mac(key, "pa-establish-primary-v1", nonce_p, nonce_b, fp_primary, fp_backup)


def peer_token(key: bytes, nonce_p: str, nonce_b: str) -> str:
    """The bearer token of the relationship, derived on both sides (never sent during the handshake)."""
    return _mac(key, "pa-peer-token-v1", nonce_p, nonce_b)


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass
class PendingHandshakes:
    """Challenges a backup has issued; each may be answered once, within a short time.

    Anyone may say hello (the handshake authenticates by what it proves), so what is kept is bounded: at most
    MAX_PENDING challenges of at most ~25 KB each (the primary's certificate is at most 20,000 characters), the oldest
    given up first, and each expires after `ttl_s` even if no other hello comes (issue 14: 13,489 hellos took an agent
    from 78 to 361 MB). A real establish answers its challenge within seconds, so a flood can at worst make an
    administrator try again; it cannot grow the agent."""

    ttl_s: float = 30.0
    max_pending: int = 64
    _pending: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    given_up: int = 0

    def _expire(self, now: float) -> None:
        # Insertion order is age order: stop at the first one still valid.
        while self._pending:
            key, (t, _) = next(iter(self._pending.items()))
            if now - t <= self.ttl_s:
                break
            del self._pending[key]

    def add(self, nonce_b: str, data: dict[str, Any]) -> None:
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            while len(self._pending) >= self.max_pending:
                del self._pending[next(iter(self._pending))]
                self.given_up += 1
            self._pending[nonce_b] = (now, data)

    def take(self, nonce_b: str) -> dict[str, Any] | None:
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            entry = self._pending.pop(nonce_b, None)
        if entry is None or now - entry[0] > self.ttl_s:
            return None
        return entry[1]

    def __len__(self) -> int:
        with self._lock:
            self._expire(time.monotonic())
            return len(self._pending)
