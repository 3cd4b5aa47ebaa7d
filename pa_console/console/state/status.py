"""Enums the views show: how the console's connection to an appliance is, and how the link of a pair is."""

from __future__ import annotations

from enum import StrEnum


class ConnectionStatus(StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"
    TLS_PROBLEM = "tls_problem"
    AUTH_PROBLEM = "auth_problem"

    @property
    def label(self) -> str:
        return {
            "connecting": "Connecting",
            "online": "Online",
            "offline": "Offline",
            "tls_problem": "Certificate problem",
            "auth_problem": "Token refused",
        }[self.value]

    @property
    def phrase(self) -> str:
        """The status after an appliance's name in a sentence ("appliance-b has a certificate problem")."""
        return {
            "connecting": "is being connected to",
            "online": "is online",
            "offline": "is offline",
            "tls_problem": "has a certificate problem",
            "auth_problem": "refuses the console's token",
        }[self.value]


class LinkState(StrEnum):
    NONE = "none"
    IN_SYNC = "in_sync"
    SYNCING = "syncing"
    BEHIND = "behind"
    BROKEN = "broken"
    PRIMARY_LOST = "primary_lost"
    UNKNOWN = "unknown"
