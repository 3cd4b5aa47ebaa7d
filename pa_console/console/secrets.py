"""API tokens live in the OS keyring, never in the settings file. No plain-text fallback."""

from __future__ import annotations

import asyncio

import keyring
import keyring.errors

SERVICE = "pa-console"


class SecretsUnavailable(Exception):
    """No usable keyring: the console refuses to store tokens rather than keep them in plain text."""


def _check_backend() -> None:
    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    chain = getattr(backend, "backends", None)
    if name.startswith("keyring.backends.fail") or "plaintext" in name.lower() or chain == []:
        raise SecretsUnavailable(
            f"No secure keyring is available to keep API tokens (found {name}); "
            "start a Secret Service such as gnome-keyring or KWallet and try again."
        )


class TokenStore:
    """Reads and writes tokens through `keyring`, off the event loop."""

    def __init__(self, service: str = SERVICE) -> None:
        self.service = service

    def _get(self, appliance_id: str) -> str | None:
        _check_backend()
        try:
            return keyring.get_password(self.service, appliance_id)
        except keyring.errors.KeyringError as exc:
            raise SecretsUnavailable(f"The keyring could not be read: {exc}") from exc

    def _set(self, appliance_id: str, token: str) -> None:
        _check_backend()
        try:
            keyring.set_password(self.service, appliance_id, token)
        except keyring.errors.KeyringError as exc:
            raise SecretsUnavailable(f"The keyring could not store the token: {exc}") from exc

    def _delete(self, appliance_id: str) -> None:
        _check_backend()
        try:
            keyring.delete_password(self.service, appliance_id)
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as exc:
            raise SecretsUnavailable(f"The keyring could not delete the token: {exc}") from exc

    async def get(self, appliance_id: str) -> str | None:
        return await asyncio.to_thread(self._get, appliance_id)

    async def set(self, appliance_id: str, token: str) -> None:
        await asyncio.to_thread(self._set, appliance_id, token)

    async def delete(self, appliance_id: str) -> None:
        await asyncio.to_thread(self._delete, appliance_id)
