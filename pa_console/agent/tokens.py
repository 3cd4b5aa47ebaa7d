"""Who a request comes from: the appliance's admin token, or a named API token (full or read-only).

Named tokens live in `DATA_DIR/tokens.json` (0600), stored as SHA-256 hashes only: a token is 256 random bits, so a
plain hash cannot be reversed and needs no slow KDF. The CLI may change the file while the agent serves
(`pa-agent token revoke`); the agent notices by the file's stat (no open, no read per request) and re-reads it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

ADMIN = "admin"  # the principal of identity.json's token
MAX_TOKENS = 100
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class TokenError(Exception):
    """A refused token operation, phrased for the administrator, with the HTTP status the API answers."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, in `request.state.principal` for every route behind the front door."""

    name: str
    read_only: bool = False
    # "admin" (identity.json's token), "token" (a named token), "peer" (the relationship's peer token),
    # "public" (no credentials: /check_health and the peer handshake, which proves itself).
    kind: Literal["admin", "token", "peer", "public"] = "token"

    @property
    def may_administer(self) -> bool:
        return self.kind in ("admin", "token")


@dataclass(frozen=True)
class TokenInfo:
    name: str
    read_only: bool
    created_at: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: str) -> str:
    if not _NAME.match(name) or name == ADMIN:
        raise TokenError(f"{name[:70]!r} is not a usable token name; use 1 to 64 letters, digits, '.', '_' or '-' "
                         f"(not {ADMIN!r}, which is the appliance's own token).")
    return name


class TokenStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._by_hash: dict[str, TokenInfo] = {}

    # -- reading (the serving agent, per request) ----------------------------------------------------------------
    def _current(self) -> dict[str, TokenInfo]:
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._by_hash = {item["sha256"]: TokenInfo(item["name"], bool(item["read_only"]), item["created_at"])
                                 for item in self._load()} if stamp else {}
                self._stamp = stamp
            return self._by_hash

    def authenticate(self, token: str) -> Principal | None:
        digest = _hash(token)
        found: TokenInfo | None = None
        for known, info in self._current().items():
            if hmac.compare_digest(known, digest):  # compare against every entry: no early exit
                found = info
        return Principal(found.name, found.read_only, "token") if found else None

    def all(self) -> list[TokenInfo]:
        return sorted(self._current().values(), key=lambda t: t.name)

    def _load(self) -> list[dict[str, Any]]:
        try:
            doc = json.loads(self.path.read_text())
            items = doc["tokens"]
            if not isinstance(items, list):
                raise TypeError("tokens is not a list")
            return [i for i in items if isinstance(i, dict) and {"name", "sha256", "read_only", "created_at"} <= set(i)]
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError, OSError):
            # A damaged file revokes every named token (the admin token still works): fail closed, and say so.
            log.error("%s cannot be read; named API tokens are refused until it is fixed "
                                              "(pa-agent token create makes a new one)", self.path)
            return []

    # -- changing (CLI and API) ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[dict[str, Any]]]:
        """The CLI and the serving agent may both change the file: one writer at a time, whole-file replace."""
        lock_path = self.path.with_suffix(".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            items = self._load()
            yield items
            tmp = self.path.with_suffix(".tmp")
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(out, "w") as fh:
                fh.write(json.dumps({"tokens": items}, indent=2) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        finally:
            os.close(fd)

    def create(self, name: str, read_only: bool) -> str:
        check_name(name)
        token = secrets.token_urlsafe(32)
        with self._locked() as items:
            if any(i["name"] == name for i in items):
                raise TokenError(f"A token named {name!r} exists already; revoke it first or choose another name.",
                                 409)
            if len(items) >= MAX_TOKENS:
                raise TokenError(f"This appliance has {MAX_TOKENS} named tokens already; revoke unused ones first.",
                                 409)
            items.append({"name": name, "sha256": _hash(token), "read_only": read_only,
                          "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
        return token

    def revoke(self, name: str) -> None:
        with self._locked() as items:
            kept = [i for i in items if i["name"] != name]
            if len(kept) == len(items):
                raise TokenError(f"There is no token named {name[:70]!r}; 'pa-agent token list' shows them.", 404)
            items[:] = kept
