"""The scrub (`pa-agent verify`, `POST /api/v1/site/verify`): what it reports, on the command line and as events.

Event types (payloads are these models dumped as JSON; every list is bounded):
- `verify_started`: VerifyStarted
- `verify_progress`: VerifyProgress (at most about one a second)
- `verify_finished`: VerifyReport (status `whole`, `damaged` or `failed`)"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# At most this many findings travel in an event or an API answer (the count says how many there were).
FINDINGS_SHOWN = 20


class VerifyStatus(StrEnum):
    RUNNING = "running"
    WHOLE = "whole"  # every row and every recording matches its recorded hash
    DAMAGED = "damaged"
    FAILED = "failed"  # the scrub could not finish (the reason is in `error`)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class VerifyFinding(_Model):
    """One damaged item. kind: a site table (`site_settings`, `users`, `sessions`, `recordings`) for a row,
    `recording_content` for a recording's bytes, `digest` for the stored digest total, `store` for SQLite's own
    structure. id: the row's key or the recording's id (None for `digest` and `store`)."""

    kind: str
    id: str | None = None
    problem: str


class VerifyStarted(_Model):
    id: str
    trigger: str  # "api", "schedule", "unclean stop", "requested by pa-agent verify"
    rows_total: int = 0
    bytes_total: int = 0


class VerifyProgress(_Model):
    id: str
    phase: str  # "count", "structure", "rows", "digest", "recordings", in this order
    rows_done: int = 0
    rows_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    damaged: int = 0
    rate_bps: float = 0.0


class VerifyReport(_Model):
    id: str
    trigger: str
    status: VerifyStatus
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float = 0.0
    rows_checked: int = 0
    recordings_checked: int = 0
    bytes_checked: int = 0
    damaged_count: int = 0
    damaged: list[VerifyFinding] = Field(default_factory=list, max_length=FINDINGS_SHOWN)
    # What the agent does about the damage: "refetch" (a backup fetches it again at its next sync), "from_backup" (a
    # primary restored items from its backup's copy, each proven against its recorded hash), "told" (the
    # administrator was mailed and nothing could be restored), or None when nothing was damaged.
    repair: str | None = None
    repaired_count: int = 0  # items a primary restored from its backup
    repair_detail: str | None = None  # one sentence: what was restored, and why the rest was not
    error: str | None = None


class VerifyStartResult(_Model):
    id: str
    started: bool
    detail: str


class VerifyState(_Model):
    """GET /api/v1/site/verify: the scrub running now (if any) and the last one that finished."""

    running: VerifyProgress | None = None
    last: VerifyReport | None = None
