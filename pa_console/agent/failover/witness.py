"""The witness check (addresses the backup must reach before it may take over) and the watch's live status."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass


@dataclass(frozen=True)
class WatchStatus:
    """What the backup's watch knows right now, for `health` (None where it does not apply)."""

    copy_blocker: str | None = None
    auto_takeover_blocked: str | None = None
    method_blocker: str | None = None  # the takeover methods' (shared address, DNS, NAT) reason, if any
    primary_refused: str | None = None
    probes_ok: bool | None = None
    witness_ok: bool | None = None
    witness_detail: str | None = None


async def _reach(address: str, timeout: float) -> str | None:
    host, _, port = address.rpartition(":")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host.strip("[]"), int(port)), timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        return f"{address} ({'no answer in time' if isinstance(exc, TimeoutError) else exc.__class__.__name__})"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


async def witness_blocker(addresses: list[str], timeout: float) -> str | None:
    """None if every witness accepts a TCP connection; else a sentence naming those that did not."""
    failed = [r for r in await asyncio.gather(*(_reach(a, timeout) for a in addresses)) if r]
    if not failed:
        return None
    return (f"the witness {', '.join(failed)} cannot be reached from this appliance, which may itself be cut off "
            "(a backup that is cut off must never take over)")
