"""The site on the shared address: the driver claims the address, then the site listener serves on it.

Serving and withdrawing go through one lock, so a takeover, a demotion and the periodic check never interleave.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from typing import TYPE_CHECKING, Any

from pa_console.agent.shared_ip.base import Endpoints, SharedAddressDriver, SharedAddressError
from pa_console.agent.shared_ip.registry import make_driver
from pa_console.agent.site_listener import SiteListener, site_tls_context
from pa_console.protocol.models import SharedAddress

if TYPE_CHECKING:
    from pa_console.agent.runtime import AgentRuntime

log = logging.getLogger(__name__)


def listen_host(listen: str | None) -> str | None:
    """'127.0.0.1:8443' or '[::1]:8443' -> the host part."""
    if not listen:
        return None
    return listen.rsplit(":", 1)[0].strip("[]")


class SharedSite:
    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self.lock = asyncio.Lock()
        self._config: SharedAddress | None = None
        self._driver: SharedAddressDriver | None = None
        self._listener: SiteListener | None = None

    @property
    def serving(self) -> bool:
        return self._listener is not None and self._listener.serving

    @property
    def serving_config(self) -> SharedAddress | None:
        return self._config if self.serving else None

    def _identify(self) -> dict[str, Any]:
        role, epoch = self.runtime.role_epoch()
        return {"name": self.runtime.name, "role": role.value, "epoch": epoch}

    def endpoints(self) -> Endpoints:
        rel = self.runtime.relationship
        return Endpoints(own_host=listen_host(self.runtime.listen), peer_host=rel.peer_host if rel else None)

    async def ineligible(self, config: SharedAddress | None = None) -> str | None:
        """Why an automatic takeover through the configured shared address cannot work; None when it can."""
        config = config or self.runtime.settings.shared_address
        if config is None:
            return "no shared address is configured"
        try:
            return await make_driver(config).ineligible(self.endpoints())
        except SharedAddressError as exc:
            return str(exc).rstrip(".")

    async def serve(self, config: SharedAddress | None = None) -> str:
        """Claim the address and serve the site on it; returns what was done, raises SharedAddressError."""
        config = config or self.runtime.settings.shared_address
        if config is None:
            raise SharedAddressError("No shared address is configured (failover settings: shared_address).")
        async with self.lock:
            if self.serving and self._config == config:
                return f"already serving {self._describe()}"
            if self.serving:
                await self._withdraw_locked()
            driver = make_driver(config)
            done = await driver.acquire()
            paths = self.runtime.identity.data_dir
            listener = SiteListener(config.address, config.port, site_tls_context(str(paths.cert), str(paths.key)),
                                    self._identify)
            try:
                await listener.start()
            except OSError as exc:
                # Give the address back: holding it without serving would black-hole the site's clients.
                try:
                    await driver.release()
                except SharedAddressError as release_exc:
                    log.warning("releasing after a failed bind: %s", release_exc)
                raise SharedAddressError(self._bind_failure(config, exc)) from exc
            self._config, self._driver, self._listener = config, driver, listener
            self.runtime.serving_shared_address = True
            return f"{done}; the site answers at https://{self._describe()}"

    def _describe(self) -> str:
        assert self._config is not None
        host = f"[{self._config.address}]" if ":" in self._config.address else self._config.address
        return f"{host}:{self._config.port}"

    @staticmethod
    def _bind_failure(config: SharedAddress, exc: OSError) -> str:
        where = f"{config.address}:{config.port}"
        if exc.errno == errno.EADDRINUSE:
            return f"Cannot serve the site on {where}: the address and port are in use (another appliance or " \
                   "program still serves there)."
        if exc.errno == errno.EADDRNOTAVAIL:
            return f"Cannot serve the site on {where}: the address is not on this host."
        return f"Cannot serve the site on {where}: {exc.strerror or exc}."

    async def withdraw(self) -> str:
        """Stop serving and give the address up (idempotent); returns what was done."""
        async with self.lock:
            return await self._withdraw_locked()

    async def _withdraw_locked(self) -> str:
        listener, driver, config = self._listener, self._driver, self._config
        self._listener = self._driver = None
        self.runtime.serving_shared_address = False
        if listener is None or driver is None or config is None:
            return "the shared address was not served here"
        await listener.stop()
        return await driver.release()

    async def release_stale(self, config: SharedAddress) -> str | None:
        """Not serving, yet the host holds the address (left over by a crash, kill -9 or a power cut): give it up.

        Returns what was done, or None when there was nothing to do.
        """
        async with self.lock:
            if self.serving:
                return None
            driver = make_driver(config)
            if driver.name in ("loopback", "load_balancer") or not await driver.holds():
                return None  # addresses always local (loopback, the appliance's own): only the listener claims them
            return await driver.release()

    async def still_held(self) -> bool:
        """While serving: does this host still hold the address (someone may have removed it by hand)?"""
        async with self.lock:
            return self._driver is not None and self.serving and await self._driver.holds()
