"""A local SMTP server (aiosmtpd) that keeps what the agents mail, so the demo can show it."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class DemoMail:
    received_at: dt.datetime
    sender: str
    recipients: tuple[str, ...]
    subject: str
    body: str


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class MailSink:
    def __init__(self) -> None:
        self.port = free_port()
        self.mails: list[DemoMail] = []
        self.listeners: list[Callable[[DemoMail], None]] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port,
                                      # A plain loop of its own: under qasync the default policy would make a Qt one.
                                      loop=asyncio.SelectorEventLoop())

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body_part = msg.get_body(("plain",))
        mail = DemoMail(dt.datetime.now(dt.UTC), str(envelope.mail_from), tuple(envelope.rcpt_tos),
                        str(msg["Subject"]), body_part.get_content() if body_part is not None else "")
        with self._lock:
            self.mails.append(mail)
            listeners = list(self.listeners)
        for listener in listeners:
            listener(mail)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
