"""Failover mails go out in the background: a slow or failing SMTP server never holds up the countdown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pa_console.agent.mail import MailError, send_mail
from pa_console.protocol.models import EventType

if TYPE_CHECKING:
    from pa_console.agent.runtime import AgentRuntime


def send_in_background(runtime: AgentRuntime, key: str, subject: str, body: str) -> None:
    async def send() -> None:
        try:
            result = await send_mail(runtime.site.get_setting("email"), subject, body)
        except MailError as exc:
            runtime.bus.publish(EventType.MAIL_FAILED, key=key, subject=subject, error=str(exc))
            return
        runtime.bus.publish(EventType.MAIL_SENT if result.ok else EventType.MAIL_FAILED, key=key, subject=subject,
                            **({} if result.ok else {"error": result.message}))

    runtime.spawn(send(), name=f"failover-mail-{key}")
