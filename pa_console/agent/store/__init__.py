"""The appliance's SQLite store: site data (synchronised), local state (never synchronised), and the event log."""

from pa_console.agent.store.db import Database

__all__ = ["Database"]
