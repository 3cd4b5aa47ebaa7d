"""Mail to the administrator through the site's email configuration (which travels with the sync)."""

from __future__ import annotations

import logging
import ssl
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from pa_console.protocol.models import EmailConfig, EmailSecurity, EmailTestResult

log = logging.getLogger(__name__)

EMAIL_SETTING = "email"


def public_config(raw: dict[str, Any] | None) -> EmailConfig:
    raw = dict(raw or {})
    raw["password_set"] = bool(raw.pop("password", ""))
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
    tls_context = ssl.create_default_context()
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
    except aiosmtplib.SMTPResponseException as exc:
        raise MailError(f"The SMTP server {cfg.host}:{cfg.port} refused: {exc.code} {exc.message}.") from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailError(f"Cannot send through {cfg.host}:{cfg.port}: {exc}. "
                        "Check the server, port and security settings.") from exc
    finally:
        client.close()
    if errors:
        refused = ", ".join(f"{addr} ({resp.code} {resp.message})" for addr, resp in errors.items())
        return EmailTestResult(ok=False, message=f"Some recipients were refused: {refused}.")
    code = message.partition(" ")[0]
    return EmailTestResult(ok=True, code=int(code) if code.isdigit() else 250, message=message)
