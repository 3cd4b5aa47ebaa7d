"""Tokens in the keyring only (no plain-text fallback); the settings file holds appliances but never tokens."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from pa_console.console.secrets import SecretsUnavailable, TokenStore
from pa_console.console.settings import ApplianceEntry, ConsoleSettings, SettingsBroken, SettingsStore
from tests.ui.memory_keyring import MemoryKeyring

PEM = """-----BEGIN CERTIFICATE-----
MIIBdzCCAR2gAwIBAgIUQ1y2z8q1Xv2cN1Wc8kq0P4G7qKUwCgYIKoZIzj0EAwIw
-----END CERTIFICATE-----
"""


@pytest.fixture
def backend() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    yield memory
    keyring.set_keyring(previous)


def test_tokens_round_trip_through_the_keyring(backend: MemoryKeyring) -> None:
    store = TokenStore()

    async def go() -> tuple[str | None, str | None]:
        await store.set("abc", "tok-1")
        got = await store.get("abc")
        await store.delete("abc")
        await store.delete("abc")  # deleting twice is fine
        return got, await store.get("abc")

    assert asyncio.run(go()) == ("tok-1", None)
    assert backend.store == {}


def test_no_keyring_is_a_clear_error_not_a_fallback() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(SecretsUnavailable, match="There is no password store"):
            asyncio.run(TokenStore().set("abc", "tok"))
    finally:
        keyring.set_keyring(previous)


def test_settings_round_trip_private_and_without_tokens(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "cfg" / "settings.json")
    assert store.load() == ConsoleSettings()
    entry = ApplianceEntry(name="alpha", host="10.0.0.5", port=8443, cert_pem=PEM)
    store.save(ConsoleSettings(theme="dark", appliances=[entry]))
    loaded = store.load()
    assert loaded.theme == "dark" and loaded.appliances == [entry]
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert set(json.loads(store.path.read_text())["appliances"][0]) == {"id", "name", "host", "port", "cert_pem"}


def test_broken_settings_are_moved_aside(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    store.path.write_text("{not json")
    with pytest.raises(SettingsBroken, match="moved"):
        store.load()
    assert not store.path.exists() and (tmp_path / "settings.broken.json").exists()
    assert store.load() == ConsoleSettings()
