"""Typed events: one pydantic model per event type, a union keyed on `type` (issue 15).

On the wire an event is `{id, ts, type, data}` (`models.Event`); the models here describe `data`, with `type` as the
discriminator. Field names are the wire's, unchanged: add, never rename.

- The agent publishes models: `bus.publish(Countdown(failover_in_s=12, ...))`.
- The console parses at its edge (`Event.body`) and matches on types: `match event.body: case Countdown(): ...`.
- A type this version does not know (a newer agent), or a known type whose data does not validate, stays raw as
  `UnknownEvent`, so an older console keeps working with a newer agent.
- Extra fields are kept (`extra="allow"`): a newer agent's additions survive a round trip through an older one.

Adding an event type: write its model below (a `type: Literal[EventType.X]` and its fields, with defaults where an
older agent may leave one out) and add it to `KnownEvent`. Nothing else needs to change.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast, get_args

import pydantic
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from pa_console.protocol.models import EventType, SyncProgress, SyncReport, SyncStatus
from pa_console.protocol.verify import VerifyProgress, VerifyReport, VerifyStarted

__all__ = [
    "AgentStarted",
    "AnyEvent",
    "AwaitingManualFailover",
    "Countdown",
    "Demoted",
    "EmailChanged",
    "EventBody",
    "FailoverAction",
    "Fenced",
    "KeepAsideFailed",
    "KeyChanged",
    "KnownEvent",
    "MailFailed",
    "MailSent",
    "NoPullAlert",
    "PrimaryLost",
    "PrimaryRecovered",
    "PrimaryRefused",
    "PullsResumed",
    "RelationshipBroken",
    "RelationshipEstablished",
    "RoleChanged",
    "SettingsChanged",
    "SiteChanged",
    "SplitBrainDataKept",
    "SyncFailed",
    "SyncFinished",
    "SyncProgressed",
    "SyncStarted",
    "Takeover",
    "TakeoverBlocked",
    "TakeoverHow",
    "TakeoverStep",
    "TakeoverStepSummary",
    "UnknownEvent",
    "VerifyFinished",
    "VerifyProgressed",
    "VerifyStartedEvent",
    "parse_body",
    "typed",
    "wire_data",
]

# What the backup will do when a countdown ends (PrimaryLost.action, Countdown.action).
FailoverAction = Literal["takeover", "await_manual_failover"]
# How a takeover came about: a planned swap (both answered), forced by an administrator, or automatic (countdown).
TakeoverHow = Literal["planned", "forced", "automatic"]


class EventBody(BaseModel):
    """The data of one event. `type` is the discriminator; it travels in the envelope, not in `data`."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str


# -- appliance -------------------------------------------------------------------------------------------------
class AgentStarted(EventBody):
    type: Literal[EventType.AGENT_STARTED] = EventType.AGENT_STARTED
    name: str = ""
    version: str = ""
    role: str = ""


class RoleChanged(EventBody):
    type: Literal[EventType.ROLE_CHANGED] = EventType.ROLE_CHANGED
    role: str
    epoch: int | None = None
    reason: str = ""
    split_brain: bool = False


class RelationshipEstablished(EventBody):
    type: Literal[EventType.RELATIONSHIP_ESTABLISHED] = EventType.RELATIONSHIP_ESTABLISHED
    role: str
    peer: str | None = None
    peer_host: str | None = None
    peer_port: int | None = None
    peer_fingerprint: str | None = None


class RelationshipBroken(EventBody):
    type: Literal[EventType.RELATIONSHIP_BROKEN] = EventType.RELATIONSHIP_BROKEN
    peer: str | None = None
    reason: str = ""
    site_data_removed: bool = False
    # Issue 13: the role it had, whether a fenced appliance kept its data, and what happens to the shared address.
    was: str | None = None
    fenced_data_kept: bool = False
    shared_address: str | None = None


class SettingsChanged(EventBody):
    type: Literal[EventType.SETTINGS_CHANGED] = EventType.SETTINGS_CHANGED
    changed: list[str] = Field(default_factory=list)
    # Kept untyped: a newer agent's settings must not fail an older console's validation.
    settings: dict[str, Any] = Field(default_factory=dict)


class EmailChanged(EventBody):
    type: Literal[EventType.EMAIL_CHANGED] = EventType.EMAIL_CHANGED
    host: str = ""
    port: int | None = None
    recipients: list[str] = Field(default_factory=list)


class KeyChanged(EventBody):
    type: Literal[EventType.KEY_CHANGED] = EventType.KEY_CHANGED
    fingerprint: str = ""


class SiteChanged(EventBody):
    type: Literal[EventType.SITE_CHANGED] = EventType.SITE_CHANGED
    sessions_added: int = 0
    recording_bytes: int = 0
    source: str = ""


# -- sync ------------------------------------------------------------------------------------------------------
class SyncStarted(EventBody):
    type: Literal[EventType.SYNC_STARTED] = EventType.SYNC_STARTED
    trigger: str = ""


class SyncProgressed(EventBody, SyncProgress):
    type: Literal[EventType.SYNC_PROGRESS] = EventType.SYNC_PROGRESS

    def progress(self) -> SyncProgress:
        return SyncProgress.model_validate(self.model_dump(include=set(SyncProgress.model_fields)))


class _SyncOutcome(EventBody, SyncReport):
    reported_by: str | None = None  # "backup" when the primary relays its backup's report

    def report(self) -> SyncReport:
        return SyncReport.model_validate(self.model_dump(include=set(SyncReport.model_fields)))


class SyncFinished(_SyncOutcome):
    type: Literal[EventType.SYNC_FINISHED] = EventType.SYNC_FINISHED
    status: SyncStatus = SyncStatus.OK


class SyncFailed(_SyncOutcome):
    type: Literal[EventType.SYNC_FAILED] = EventType.SYNC_FAILED
    status: SyncStatus = SyncStatus.FAILED


class NoPullAlert(EventBody):
    type: Literal[EventType.NO_PULL_ALERT] = EventType.NO_PULL_ALERT
    idle_s: float = 0
    limit_s: float = 0
    backup: str | None = None


class PullsResumed(EventBody):
    type: Literal[EventType.PULLS_RESUMED] = EventType.PULLS_RESUMED


# -- failover --------------------------------------------------------------------------------------------------
class PrimaryLost(EventBody):
    type: Literal[EventType.PRIMARY_LOST] = EventType.PRIMARY_LOST
    error: str = ""  # why the primary is considered lost (the last probe's error)
    failures: int = 0
    failover_in_s: float | None = None
    auto_failover: bool = False
    action: FailoverAction | None = None
    takeover_blocked: str | None = None  # why automatic failover is on but cannot work


class Countdown(EventBody):
    type: Literal[EventType.COUNTDOWN] = EventType.COUNTDOWN
    failover_in_s: float
    auto_failover: bool = False
    action: FailoverAction | None = None
    takeover_blocked: str | None = None

    @property
    def takes_over(self) -> bool:
        """Whether the backup will take over when the countdown ends (older agents send no `action`)."""
        if self.action is not None:
            return self.action == "takeover"
        return self.auto_failover and not self.takeover_blocked


class AwaitingManualFailover(EventBody):
    type: Literal[EventType.AWAITING_MANUAL_FAILOVER] = EventType.AWAITING_MANUAL_FAILOVER
    reason: str = ""


class PrimaryRecovered(EventBody):
    type: Literal[EventType.PRIMARY_RECOVERED] = EventType.PRIMARY_RECOVERED
    down_s: float = 0
    was: str = ""
    via: str = "probe"  # what showed the primary alive again: "probe" or "heartbeat" (issue 13)


class TakeoverStep(EventBody):
    """One step of a promotion or demotion (role, shared address, DNS swing, NAT swing...), one shape for all."""

    type: Literal[EventType.TAKEOVER_STEP] = EventType.TAKEOVER_STEP
    step: str
    ok: bool
    detail: str = ""
    duration_s: float = 0.0
    method: str | None = None  # the takeover method's name, for DNS/NAT swing steps
    event: Literal["takeover", "demotion"] | None = None
    outcome: Literal["done", "failed"] | None = None  # filled from `ok`: the same word on every step
    exit_status: int | None = None  # NAT swing: its command's exit status and output
    output: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _outcome(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("outcome") is None and isinstance(data.get("ok"), bool):
            return {**data, "outcome": "done" if data["ok"] else "failed"}
        return data


class TakeoverStepSummary(BaseModel):
    model_config = ConfigDict(extra="allow")
    step: str = "?"
    ok: bool = False
    detail: str = ""
    duration_s: float = 0.0


class Takeover(EventBody):
    type: Literal[EventType.TAKEOVER] = EventType.TAKEOVER
    role: str = "primary"
    epoch: int | None = None
    reason: str = ""
    planned: bool = False  # a planned swap (both answered) rather than the loss of the primary
    ok: bool = True
    steps: list[TakeoverStepSummary] = Field(default_factory=list)
    # How it came about: "planned" (swap), "forced" (an administrator, primary lost), "automatic" (countdown).
    # Older agents leave it out; then it is "planned" when planned, else unknown (None).
    how: TakeoverHow | None = None

    @property
    def failed_steps(self) -> list[str]:
        return [s.step for s in self.steps if not s.ok]


class Demoted(EventBody):
    type: Literal[EventType.DEMOTED] = EventType.DEMOTED
    peer: str = ""
    peer_epoch: int | None = None
    previous_epoch: int | None = None
    epoch: int | None = None
    kept: str | None = None
    diverged: dict[str, int] = Field(default_factory=dict)  # rows kept aside per kind (issue 13); empty: none


class SplitBrainDataKept(EventBody):
    type: Literal[EventType.SPLIT_BRAIN_DATA_KEPT] = EventType.SPLIT_BRAIN_DATA_KEPT
    path: str = ""
    last_seq: int | None = None
    since_seq: int | None = None  # the last change the peer confirmed: what is kept came after it (issue 13)
    rows: dict[str, int] = Field(default_factory=dict)
    detail: str = ""


# Issue 13 (fencing, refused probes, why a takeover is blocked). Tagged by their wire names: the EventType members
# arrive with that work; a console that reads them works with agents with and without them.
class TakeoverBlocked(EventBody):
    """Said on each change of why the backup would not take over automatically (None: it would)."""

    type: Literal["takeover_blocked"] = "takeover_blocked"
    blocked: bool = False
    reason: str | None = None


class PrimaryRefused(EventBody):
    """The primary answers but no longer recognises the relationship (refused), or does again (not refused)."""

    type: Literal["primary_refused"] = "primary_refused"
    refused: bool = True
    said: str = ""
    detail: str = ""


class Fenced(EventBody):
    """This appliance stopped being primary: its peer is primary at a higher epoch."""

    type: Literal["fenced"] = "fenced"
    peer: str = ""
    peer_epoch: int | None = None
    previous_epoch: int | None = None
    epoch: int | None = None
    since_seq: int | None = None
    reason: str = ""


class KeepAsideFailed(EventBody):
    """The diverged data could not be kept aside: the appliance stays fenced, untouched."""

    type: Literal["keep_aside_failed"] = "keep_aside_failed"
    peer: str = ""
    since_seq: int | None = None
    error: str = ""
    detail: str = ""


# -- mail ------------------------------------------------------------------------------------------------------
class MailSent(EventBody):
    type: Literal[EventType.MAIL_SENT] = EventType.MAIL_SENT
    subject: str = ""
    key: str | None = None  # failover mails: which mail of the incident
    kind: str | None = None  # other alerts
    answer: str | None = None


class MailFailed(EventBody):
    type: Literal[EventType.MAIL_FAILED] = EventType.MAIL_FAILED
    subject: str = ""
    key: str | None = None
    kind: str | None = None
    error: str = ""


# -- scrub (pa-agent verify; fields in protocol/verify.py) ------------------------------------------------------
class VerifyStartedEvent(EventBody, VerifyStarted):
    type: Literal[EventType.VERIFY_STARTED] = EventType.VERIFY_STARTED


class VerifyProgressed(EventBody, VerifyProgress):
    type: Literal[EventType.VERIFY_PROGRESS] = EventType.VERIFY_PROGRESS


class VerifyFinished(EventBody, VerifyReport):
    type: Literal[EventType.VERIFY_FINISHED] = EventType.VERIFY_FINISHED


KnownEvent = Annotated[
    AgentStarted
    | RoleChanged
    | RelationshipEstablished
    | RelationshipBroken
    | SettingsChanged
    | EmailChanged
    | KeyChanged
    | SiteChanged
    | SyncStarted
    | SyncProgressed
    | SyncFinished
    | SyncFailed
    | NoPullAlert
    | PullsResumed
    | PrimaryLost
    | Countdown
    | AwaitingManualFailover
    | PrimaryRecovered
    | TakeoverStep
    | Takeover
    | Demoted
    | SplitBrainDataKept
    | TakeoverBlocked
    | PrimaryRefused
    | Fenced
    | KeepAsideFailed
    | MailSent
    | MailFailed
    | VerifyStartedEvent
    | VerifyProgressed
    | VerifyFinished,
    Field(discriminator="type"),
]


class UnknownEvent(EventBody):
    """An event this version cannot type: a newer agent's new type, or data that does not validate. Kept raw."""

    data: dict[str, Any] = Field(default_factory=dict)
    problem: str | None = None  # why a known type did not validate (None: the type is simply unknown)


AnyEvent = KnownEvent | UnknownEvent

_ADAPTER: TypeAdapter[Any] = TypeAdapter(KnownEvent)
KNOWN_TYPES: frozenset[str] = frozenset(
    str(get_args(model.model_fields["type"].annotation)[0]) for model in get_args(get_args(KnownEvent)[0])
)


def parse_body(type_: str, data: dict[str, Any]) -> AnyEvent:
    """The typed body of an event; never raises (what cannot be typed is kept raw)."""
    if type_ not in KNOWN_TYPES:
        return UnknownEvent(type=type_, data=dict(data))
    try:
        body: AnyEvent = _ADAPTER.validate_python({**data, "type": type_})
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:])  # [0] is the union's tag
        return UnknownEvent(type=type_, data=dict(data), problem=f"{where}: {first['msg']}")
    return body


def typed(event: EventBody | str, data: dict[str, Any]) -> AnyEvent:
    """A body from either publishing form: a model as it is, or a type and its fields (parsed, kept raw if odd)."""
    if isinstance(event, EventBody):
        if data:
            raise TypeError("publish a model or a type with fields, not both")
        return cast("AnyEvent", event)
    return parse_body(str(event), data)


def wire_data(body: EventBody) -> tuple[str, dict[str, Any]]:
    """(type, data) as stored and sent: field names unchanged, `type` in the envelope rather than in `data`."""
    if isinstance(body, UnknownEvent):
        return body.type, dict(body.data)
    data = body.model_dump(mode="json", exclude={"type"})
    return str(body.type), data
