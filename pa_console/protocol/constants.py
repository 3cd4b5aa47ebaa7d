"""Versions and limits that both sides of the wire agree on."""

from pa_console import __version__

PRODUCT_VERSION = __version__
# Raised whenever the store's schema or the sync wire format changes; peers must agree on it.
SCHEMA_VERSION = 2
API_PREFIX = "/api/v1"
# Recordings are stored and moved in chunks of this size (bounded memory whatever the recording's size).
CHUNK_SIZE = 1024 * 1024
# How many events an agent keeps at least (issue: at least the last 10,000, across restarts).
EVENTS_KEPT = 10_000
