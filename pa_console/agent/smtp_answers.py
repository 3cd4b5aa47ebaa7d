"""Every SMTP answer and failure told as one sentence, with the server's code: never a Python repr.

aiosmtplib's exceptions print as reprs (`[SMTPRecipientRefused(554, '5.7.1 ...', 'a@b')]`) and servers end their
texts with or without a full stop; the administrator reads these in the console and in the events.
"""

from __future__ import annotations

import errno
import socket
import ssl

import aiosmtplib


def clean(text: str) -> str:
    """A server's (possibly multi-line) text as one line, without the final full stop (the sentence adds one)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip()).rstrip(". ")


def answer(code: int, text: str) -> str:
    return f"{code} {clean(text)}".strip()


def _refusal_object(exc: aiosmtplib.SMTPResponseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return f"the sender {exc.sender}"
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return f"the recipient {exc.recipient}"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return "the user name or password"
    if isinstance(exc, aiosmtplib.SMTPDataError):
        return "the message"
    if isinstance(exc, aiosmtplib.SMTPHeloError):
        return "this appliance's greeting"
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
        return "the connection"
    return "the request"


def _tls_cause(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def describe_failure(exc: BaseException, where: str) -> str:
    """One sentence for a failed SMTP exchange with `where` (host:port)."""
    untrusted = _tls_cause(exc)
    if untrusted is not None:
        reason = clean(untrusted.verify_message or str(untrusted.reason or "verification failed"))
        return (f"The SMTP server {where} presented a certificate this appliance does not trust ({reason}); set the "
                "company CA file in the email settings, or add its CA to the system trust store.")
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = ", ".join(f"{r.recipient} ({answer(r.code, r.message)})" for r in exc.recipients)
        return f"The SMTP server {where} refused every recipient: {refused}."
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"The SMTP server {where} refused {_refusal_object(exc)}: {answer(exc.code, exc.message)}."
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return f"The SMTP server {where} does not support what the settings ask ({clean(exc.message)}); check the " \
               "security setting (none, starttls or tls)."
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return f"The SMTP server {where} did not answer in time; check the server, port and firewall."
    if isinstance(exc, ssl.SSLError):
        return f"The TLS connection to the SMTP server {where} failed ({clean(exc.reason or str(exc))}); check the " \
               "security setting (starttls for port 587 or 25, tls for port 465)."
    unreached = _no_server(exc, where)
    if unreached is not None:
        return unreached
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return f"The SMTP server {where} closed the connection before the message was sent; check the port and " \
               "the security setting (tls for port 465, starttls for 587 or 25)."
    if "AUTH extension is not supported" in str(exc):
        return f"The SMTP server {where} offers no login (AUTH) on this connection; leave the user name empty, or " \
               "choose starttls or tls if the server allows login only over an encrypted connection."
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else getattr(exc, "message", "") or str(exc)
    return f"Cannot send through the SMTP server {where}: {clean(detail) or type(exc).__name__}. Check the server, " \
           "port and security settings."


def _no_server(exc: BaseException, where: str) -> str | None:
    """No SMTP server was reached at all (name unknown, nothing listening, no route): say so, never "[Errno -2]"."""
    host = where.rsplit(":", 1)[0]
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return f"The SMTP server name {host} is not known (DNS lookup failed); check the server name."
        if isinstance(seen, ConnectionRefusedError):
            return f"No SMTP server accepts connections at {where}; check the server and the port (usually 25, " \
                   "465 or 587)."
        if isinstance(seen, OSError) and seen.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return f"This appliance has no route to the SMTP server {where}; check the address and the network."
        seen = seen.__cause__ or seen.__context__
    return None


def describe_partial(refused: dict[str, aiosmtplib.SMTPResponse], where: str) -> str:
    """Some recipients accepted, some refused."""
    listed = ", ".join(f"{address} ({answer(resp.code, resp.message)})" for address, resp in refused.items())
    return f"The SMTP server {where} accepted the message but refused some recipients: {listed}."
