"""Mail to the administrator through the site's email configuration (which travels with the sync)."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from pa_console.agent.mail_tls import CaFileError, describe_verification, smtp_tls_context
from pa_console.agent.smtp_answers import clean, describe_failure, describe_partial
from pa_console.protocol.models import EmailConfig, EmailSecurity, EmailTestResult

log = logging.getLogger(__name__)

EMAIL_SETTING = "email"


def public_config(raw: dict[str, Any] | None) -> EmailConfig:
    raw = dict(raw or {})
    raw["password_set"] = bool(raw.pop("password", ""))
    security = raw.get("security", EmailSecurity.NONE.value)
    raw["verification"] = ("none: the connection is not encrypted" if security == EmailSecurity.NONE.value
                           else "the server's certificate is verified against "
                                + describe_verification(str(raw.get("ca_file", ""))))
    return EmailConfig.model_validate(raw)


class MailError(Exception):
    pass


async def send_mail(raw: dict[str, Any] | None, subject: str, body: str) -> EmailTestResult:
    """Send one message; returns the server's answer. Raises MailError with a sentence on failure."""
    cfg = public_config(raw)
    password = (raw or {}).get("password") or None
    if not cfg.host or not cfg.recipients or not cfg.sender:
        raise MailError("Email is not configured: set the SMTP server, sender and at least one recipient.")
    msg = EmailMessage()
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(cfg.recipients)
    msg["Subject"] = subject
    msg.set_content(body)
    where = f"{cfg.host}:{cfg.port}"
    try:
        tls_context = smtp_tls_context(cfg.ca_file) if cfg.security != EmailSecurity.NONE else None
    except CaFileError as exc:
        raise MailError(str(exc)) from exc
    client = aiosmtplib.SMTP(hostname=cfg.host, port=cfg.port, timeout=15,
                             use_tls=cfg.security == EmailSecurity.TLS,
                             start_tls=cfg.security == EmailSecurity.STARTTLS,
                             tls_context=tls_context)
    try:
        await client.connect()
        if cfg.username:
            await client.login(cfg.username, password or "")
        errors, message = await client.send_message(msg)
        await client.quit()
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailError(describe_failure(exc, where)) from exc
    finally:
        client.close()
    if errors:
        return EmailTestResult(ok=False, message=describe_partial(errors, where))
    # aiosmtplib gives the DATA answer's text; its code is 250 whenever the message was accepted.
    code, _, text = message.partition(" ")
    if code.isdigit():
        return EmailTestResult(ok=True, code=int(code), message=clean(text) + ".")
    return EmailTestResult(ok=True, code=250, message=clean(message) + ".")
