"""Failover mails go out in the background: a slow or failing SMTP server never holds up the countdown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pa_console.agent.mail import MailError, send_mail
from pa_console.protocol.events import MailFailed, MailSent

if TYPE_CHECKING:
    from pa_console.agent.runtime import AgentRuntime


def send_in_background(runtime: AgentRuntime, key: str, subject: str, body: str) -> None:
    async def send() -> None:
        try:
            result = await send_mail(runtime.site.get_setting("email"), subject, body)
        except MailError as exc:
            runtime.bus.publish(MailFailed(key=key, subject=subject, error=str(exc)))
            return
        runtime.bus.publish(MailSent(key=key, subject=subject) if result.ok
                            else MailFailed(key=key, subject=subject, error=result.message))

    runtime.spawn(send(), name=f"failover-mail-{key}")
