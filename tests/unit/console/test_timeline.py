from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from pa_console.console.state.timeline import TimelineModel
from pa_console.protocol.events import (
    Countdown,
    RelationshipEstablished,
    SyncFailed,
    SyncFinished,
    SyncProgressed,
    Takeover,
    TakeoverStep,
    TakeoverStepSummary,
)

from .factories import STARTED, event

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_merges_by_time_skips_noise_and_duplicates() -> None:
    model = TimelineModel()
    changes: list[None] = []
    model.changed.connect(changes.append)
    established = event(RelationshipEstablished(role="primary"), id=1, ts=T0)
    model.add("alpha", [established, event(SyncProgressed(phase="rows"), id=2, ts=T0)])
    finished = SyncFinished(started_at=STARTED, rows_moved=3, bytes_moved=2048)
    model.add("beta", [event(finished, id=1, ts=T0 + timedelta(seconds=5))])
    model.add("alpha", [event(Countdown(failover_in_s=59), id=3, ts=T0 + timedelta(seconds=2))])
    model.add("alpha", [event(Countdown(failover_in_s=60), id=4, ts=T0 + timedelta(seconds=3))])
    model.add("alpha", [event(RelationshipEstablished(role="primary"), id=1, ts=T0)])  # duplicate
    entries = model.visible()
    assert [(e.appliance, e.event.type) for e in entries] == [
        ("alpha", "relationship_established"),
        ("alpha", "countdown"),
        ("beta", "sync_finished"),
    ]
    assert "3 rows, 2.0 KiB" in entries[2].summary
    assert len(changes) == 3


def test_filter_and_export() -> None:
    model = TimelineModel()
    model.add("alpha", [event(SyncFailed(started_at=STARTED, error="disk full"), id=1, ts=T0)])
    model.add("beta", [event(Takeover(), id=1, ts=T0 + timedelta(seconds=1))])
    model.set_filter(categories={"sync"})
    assert [e.event.type for e in model.visible()] == ["sync_failed"]
    model.set_filter(categories={"sync", "failover"}, appliances={"beta"})
    assert [e.event.type for e in model.visible()] == ["takeover"]
    model.set_filter(categories={"sync", "failover"}, text="disk")
    rows = list(csv.reader(io.StringIO(model.to_csv())))
    assert rows[0][:4] == ["time", "appliance", "id", "type"]
    assert rows[1][1] == "alpha" and "disk full" in rows[1][5]
    data = json.loads(model.to_json())
    assert data[0]["data"]["error"] == "disk full"  # the whole event data, as the agent sent it
    data[0]["data"] = {"error": data[0]["data"]["error"]}
    assert data == [
        {
            "time": T0.isoformat(),
            "appliance": "alpha",
            "id": 1,
            "type": "sync_failed",
            "category": "sync",
            "summary": "Sync failed: disk full",
            "data": {"error": "disk full"},
        }
    ]


def test_takeover_summaries_name_steps_and_failures() -> None:
    step = event(TakeoverStep(step="shared_address", ok=False, detail="address in use", duration_s=0.25))
    assert TimelineModel._record(_entry(step))["summary"] == (
        "Takeover step shared_address: FAILED in 0.25 s (address in use)"
    )
    steps = [TakeoverStepSummary(step="role", ok=True), TakeoverStepSummary(step="dns", ok=False)]
    takeover = event(Takeover(epoch=4, planned=False, ok=False, steps=steps))
    assert _entry(takeover).summary == "Became primary (after losing the primary), epoch 4; failed steps: dns"
    automatic = event(Takeover(epoch=5, how="automatic", steps=steps[:1]))
    assert _entry(automatic).summary == "Became primary (automatic takeover), epoch 5"
    planned = event(Takeover(epoch=6, planned=True))
    assert _entry(planned).summary == "Became primary (planned swap), epoch 6"


def _entry(e):  # type: ignore[no-untyped-def]
    from pa_console.console.state.timeline import TimelineEntry

    return TimelineEntry("beta", e)


def test_issue_13_events_are_summarised_in_the_failover_category() -> None:
    from pa_console.protocol.events import Fenced, TakeoverBlocked

    blocked = _entry(event(TakeoverBlocked(blocked=True, reason="no witness answers")))
    assert blocked.category == "failover" and blocked.summary == "Automatic takeover blocked: no witness answers"
    fenced = _entry(event(Fenced(peer="beta", peer_epoch=5)))
    assert fenced.summary == "Fenced: stepped down to backup, beta is primary at epoch 5"


def test_scrubs_read_as_sentences_and_their_progress_is_noise() -> None:
    from pa_console.protocol.events import VerifyFinished, VerifyProgressed

    model = TimelineModel()
    base = {"id": "s1", "trigger": "api", "started_at": T0, "rows_checked": 12, "bytes_checked": 3 * 1024 * 1024}
    restored = VerifyFinished(status="damaged", damaged_count=2, repair="from_backup", repaired_count=2,
                              repair_detail="2 damaged item(s) restored from the backup, each checked against its "
                                            "recorded hash.", **base)
    model.add("alpha", [event(VerifyProgressed(id="s1", phase="rows"), id=1, ts=T0),
                        event(restored, id=2, ts=T0 + timedelta(seconds=1)),
                        event(VerifyFinished(status="damaged", damaged_count=1, repair="refetch", **base), id=3,
                              ts=T0 + timedelta(seconds=2)),
                        event(VerifyFinished(status="whole", **base), id=4, ts=T0 + timedelta(seconds=3)),
                        event(VerifyFinished(status="failed", error="The agent stopped during the scrub.", **base),
                              id=5, ts=T0 + timedelta(seconds=4))])
    assert [e.summary for e in model.visible()] == [
        "Scrub found 2 damaged item(s): 2 damaged item(s) restored from the backup, each checked against its "
        "recorded hash.",
        "Scrub found 1 damaged item(s); this backup fetches them again from its primary at its next sync",
        "Scrub: the site data is whole (12 rows and 3.0 MiB of recordings checked)",
        "Scrub failed: The agent stopped during the scrub.",
    ]
