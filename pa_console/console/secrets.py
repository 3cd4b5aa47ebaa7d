"""API tokens live in the OS keyring, never in the settings file. No plain-text fallback."""

from __future__ import annotations

import asyncio
import logging

import keyring
import keyring.errors

SERVICE = "pa-console"
log = logging.getLogger(__name__)


class SecretsUnavailable(Exception):
    """No usable keyring: the console refuses to store tokens rather than keep them in plain text."""


def _check_backend() -> None:
    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    chain = getattr(backend, "backends", None)
    if name.startswith("keyring.backends.fail") or "plaintext" in name.lower() or chain == []:
        log.warning("no usable keyring backend: %s", name)  # the technical name for the log, not the user
        raise SecretsUnavailable(
            "There is no password store to keep the appliances' API tokens safe, so the console cannot add or "
            "connect to appliances. Start your desktop's password store (GNOME Keyring, KWallet or another "
            "Secret Service) and restart the console."
        )


class TokenStore:
    """Reads and writes tokens through `keyring`, off the event loop."""

    def __init__(self, service: str = SERVICE) -> None:
        self.service = service

    async def problem(self) -> str | None:
        """At start: a plain sentence if tokens cannot be kept safely, else None."""
        try:
            await asyncio.to_thread(_check_backend)
        except SecretsUnavailable as exc:
            return str(exc)
        except Exception as exc:  # a keyring backend that fails to load at all
            log.warning("the keyring could not be checked: %r", exc)
            return "The password store could not be opened, so API tokens cannot be kept safe: " + str(exc)
        return None

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
