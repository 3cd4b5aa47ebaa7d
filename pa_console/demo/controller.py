"""What the demo's controls do, Qt-free: stop/start an appliance, watch who serves the shared address, mails."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import httpx

from pa_console.demo.lab import SHARED_ADDRESS, DemoAppliance, DemoLab
from pa_console.demo.mailsink import DemoMail
from pa_console.protocol.tls_pin import pinned_context

log = logging.getLogger(__name__)


class DemoController:
    def __init__(self, lab: DemoLab) -> None:
        self.lab = lab
        self.site_holder: str | None = None
        self.busy = False
        self.listeners: list[Callable[[str], None]] = []  # called with what changed: "mail", "site", "appliances"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watch: asyncio.Task[None] | None = None

    @property
    def mails(self) -> list[DemoMail]:
        return list(self.lab.mail.mails)

    @property
    def appliances(self) -> list[DemoAppliance]:
        return [self.lab.primary, self.lab.backup]

    @property
    def shared_site(self) -> str:
        return f"https://{SHARED_ADDRESS}:{self.lab.shared_port}/"

    def _emit(self, what: str) -> None:
        for listener in list(self.listeners):
            listener(what)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        loop = self._loop
        # Mails arrive on the SMTP server's thread; hand them to the loop the views live on.
        def mail_arrived(_mail: DemoMail) -> None:
            loop.call_soon_threadsafe(self._emit, "mail")

        self.lab.mail.listeners.append(mail_arrived)
        self._watch = asyncio.ensure_future(self._watch_site())

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch

    async def _watch_site(self) -> None:
        """Ask the shared address who serves it, once a second: the demo shows the address moving."""
        ctx = pinned_context(self.lab.primary.cert_pem + self.lab.backup.cert_pem)
        async with httpx.AsyncClient(verify=ctx, timeout=2) as client:
            while True:
                try:
                    doc = (await client.get(self.shared_site)).json()
                    holder = f"{doc.get('name')} ({doc.get('role')})"
                except (httpx.HTTPError, ValueError):
                    holder = None
                if holder != self.site_holder:
                    self.site_holder = holder
                    self._emit("site")
                await asyncio.sleep(1.0)

    async def stop_appliance(self, appliance: DemoAppliance) -> None:
        await self._busy(asyncio.to_thread(self.lab.stop_appliance, appliance))

    async def start_appliance(self, appliance: DemoAppliance) -> None:
        await self._busy(self.lab.start_appliance(appliance))

    async def _busy(self, work: Awaitable[None]) -> None:
        self.busy = True
        self._emit("appliances")
        try:
            await work
        finally:
            self.busy = False
            self._emit("appliances")
