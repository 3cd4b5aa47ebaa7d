"""Where an agent keeps its files inside DATA_DIR."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def identity(self) -> Path:
        return self.root / "identity.json"

    @property
    def cert(self) -> Path:
        return self.root / "tls" / "cert.pem"

    @property
    def key(self) -> Path:
        return self.root / "tls" / "key.pem"

    @property
    def ia_key(self) -> Path:
        return self.root / "inter-appliance.key"

    @property
    def tokens(self) -> Path:
        """Named API tokens (hashes only), changed by `pa-agent token` and the API."""
        return self.root / "tokens.json"

    @property
    def db(self) -> Path:
        return self.root / "site.db"

    @property
    def listen(self) -> Path:
        """Written while serving, so that scripts (and `pa-agent info`) can find the chosen address."""
        return self.root / "listen.json"

    @property
    def serve_lock(self) -> Path:
        """Locked (flock) by the one `pa-agent serve` of this DATA_DIR while it runs; holds its pid."""
        return self.root / "serve.lock"

    @property
    def log(self) -> Path:
        return self.root / "agent.log"

    def secret_files(self) -> list[Path]:
        return [self.identity, self.key, self.ia_key]
