"""The primary's watch on its backup: mail the administrator when no backup has pulled for `no_pull_alert_s`."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from pa_console.agent.mail import EMAIL_SETTING, MailError, send_mail
from pa_console.agent.runtime import AgentRuntime
from pa_console.protocol.events import MailFailed, MailSent, PullsResumed
from pa_console.protocol.events import NoPullAlert as NoPullAlerted
from pa_console.protocol.models import Role

log = logging.getLogger(__name__)


async def mail_admin(runtime: AgentRuntime, subject: str, body: str, kind: str) -> bool:
    """Mail, and record the outcome as an event; a mail failure never stops the work that wanted to mail."""
    try:
        result = await send_mail(runtime.site.get_setting(EMAIL_SETTING), f"[{runtime.name}] {subject}", body)
    except MailError as exc:
        runtime.bus.publish(MailFailed(kind=kind, subject=subject, error=str(exc)))
        return False
    if not result.ok:  # some recipients refused: told, not counted as sent
        runtime.bus.publish(MailFailed(kind=kind, subject=subject, error=result.message))
        return False
    runtime.bus.publish(MailSent(kind=kind, subject=subject, answer=result.message))
    return True


class NoPullAlert:
    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = self.runtime.spawn(self._loop(), "no-pull-alert")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def pulled(self) -> None:
        """Called when a backup pulls; after an alert, tell the administrator that pulls resumed."""
        rt = self.runtime
        await asyncio.to_thread(rt.local.set, "last_pull_at", dt.datetime.now(dt.UTC).isoformat())
        if await asyncio.to_thread(rt.local.get, "no_pull_alerted"):
            await asyncio.to_thread(rt.local.delete, "no_pull_alerted")
            rt.bus.publish(PullsResumed())
            rt.spawn(mail_admin(rt, "Backup pulls resumed",
                                f"A backup appliance pulled the site data of {rt.name} again.", "pulls_resumed"),
                     "mail-pulls-resumed")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await self._check()
            except Exception:
                log.exception("no-pull check failed")

    async def _check(self) -> None:
        rt = self.runtime
        rel = rt.relationship
        if rt.role != Role.PRIMARY or rel is None or rt.local.get("no_pull_alerted"):
            return
        limit = rt.settings.no_pull_alert_s
        last_pull = rt.local.get("last_pull_at")
        last = dt.datetime.fromisoformat(last_pull) if last_pull else rel.established_at
        idle = (dt.datetime.now(dt.UTC) - last).total_seconds()
        if idle < limit:
            return
        rt.local.set("no_pull_alerted", True)
        rt.bus.publish(NoPullAlerted(idle_s=round(idle), limit_s=limit, backup=rel.peer_name))
        await mail_admin(
            rt, "No backup has pulled the site data",
            f"No backup appliance has pulled the site data of {rt.name} for {round(idle)} seconds "
            f"(the alert threshold is {limit:g} s). The backup {rel.peer_name!r} at "
            f"{rel.peer_host}:{rel.peer_port} may be down, unable to reach this appliance, or have "
            "synchronisation turned off. Until it pulls again, a failover would lose recent data.", "no_pull_alert")
