"""The console's settings file: appliances (address, pinned certificate, name), theme. Never tokens."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import tempfile
import uuid
from pathlib import Path
from typing import Literal

import platformdirs
import pydantic
from pydantic import BaseModel, Field

from pa_console.console.fingerprints import fingerprint_of_der

APP_NAME = "pa-console"


class ApplianceEntry(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    name: str
    host: str
    port: int = Field(ge=1, le=65535)
    cert_pem: str

    @property
    def fingerprint(self) -> str:
        return fingerprint_of_der(ssl.PEM_cert_to_DER_cert(self.cert_pem))


class ConsoleSettings(BaseModel):
    version: int = 1
    theme: Literal["system", "light", "dark"] = "system"
    appliances: list[ApplianceEntry] = Field(default_factory=list)
    disabled_notices: list[str] = Field(default_factory=list)


def default_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "settings.json"


class SettingsStore:
    """Loads and saves ConsoleSettings as JSON (atomically, mode 0600)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def load(self) -> ConsoleSettings:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ConsoleSettings()
        try:
            return ConsoleSettings.model_validate(json.loads(text))
        except (json.JSONDecodeError, pydantic.ValidationError) as exc:
            broken = self.path.with_suffix(".broken.json")
            os.replace(self.path, broken)
            raise SettingsBroken(f"The settings file {self.path} was unreadable and was moved to {broken}.") from exc

    def save(self, settings: ConsoleSettings) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".settings-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(settings.model_dump_json(indent=2))
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def asave(self, settings: ConsoleSettings) -> None:
        await asyncio.to_thread(self.save, settings.model_copy(deep=True))


class SettingsBroken(Exception):
    pass
