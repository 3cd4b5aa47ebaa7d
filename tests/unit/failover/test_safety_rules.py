"""Issue 13's decision rules as pure functions and store operations, without network or sleeping."""

from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path

import orjson
import pytest

from pa_console.agent.failover.keep_aside import file_safe, keep_diverged
from pa_console.agent.failover.machine import (
    ConfigChanged,
    Heartbeat,
    Phase,
    ProbeFailed,
    ProbeOk,
    ProbeRefused,
    Publish,
    Start,
    TakeOver,
    Tick,
    WatchConfig,
    WatchEvent,
    WatchState,
    copy_blocker,
    step,
)
from pa_console.agent.store.db import Database
from pa_console.agent.store.local import set_in
from pa_console.agent.store.site import SiteStore, SiteWriteRefused
from pa_console.agent.sync import feed, staging
from pa_console.protocol.constants import CHUNK_SIZE
from pa_console.protocol.models import EventType

AUTO = WatchConfig(primary_timeout_s=10, probe_interval_s=1, auto_failover=True, own_name="beta", peer_name="alpha")


def run(config: WatchConfig, events: list[WatchEvent]) -> tuple[WatchState, list[object]]:
    state, _ = step(WatchState(), Start(0.0), config)
    effects: list[object] = []
    for event in events:
        state, more = step(state, event, config)
        effects += more
    return state, effects


def silence(until: float, heartbeats_every: float | None = None) -> list[WatchEvent]:
    """Probes fail every second; heartbeats (if any) keep arriving; ticks every 0.25 s."""
    events: list[WatchEvent] = []
    t = 0.0
    while t <= until:
        if t == int(t):
            events.append(ProbeFailed(t, "timed out"))
        if heartbeats_every and abs(t / heartbeats_every - round(t / heartbeats_every)) < 1e-9:
            events.append(Heartbeat(t))
        events.append(Tick(t))
        t = round(t + 0.25, 6)
    return events


def test_copy_blocker_says_why_a_copy_is_not_complete() -> None:
    assert "never completed a sync" in str(copy_blocker(None, "s1", "alpha"))
    assert "earlier store" in str(copy_blocker("s0", "s1", "alpha"))
    assert copy_blocker("s1", "s1", "alpha") is None
    assert copy_blocker("s1", None, "alpha") is None  # the primary's store never seen: the copy is what we have


def test_a_backup_without_a_complete_copy_never_takes_over_and_says_why() -> None:
    config = WatchConfig(**{**AUTO.__dict__, "copy_blocker": copy_blocker(None, None, "alpha")})
    state, effects = run(config, silence(20))
    assert state.phase == Phase.AWAITING_MANUAL
    assert not [e for e in effects if isinstance(e, TakeOver)]
    lost = next(e for e in effects if isinstance(e, Publish) and e.type == EventType.PRIMARY_LOST)
    assert "never completed a sync" in str(lost.data["takeover_blocked"])
    awaiting = next(e for e in effects if isinstance(e, Publish) and e.type == EventType.AWAITING_MANUAL_FAILOVER)
    assert "never completed a sync" in str(awaiting.data["reason"])
    # The copy becomes complete (a sync finished) while awaiting: the takeover happens then.
    state, effects = step(state, ConfigChanged(21.0), AUTO)
    assert [e for e in effects if isinstance(e, TakeOver)] and state.phase == Phase.TOOK_OVER


def test_heartbeats_arriving_keep_a_backup_whose_probes_fail_from_taking_over() -> None:
    state, effects = run(AUTO, silence(40, heartbeats_every=1.0))
    assert state.phase == Phase.SUSPECT and state.primary_reachable is True
    assert not [e for e in effects if isinstance(e, TakeOver | Publish)]
    # The heartbeats stop too: lost, and the countdown runs from the last heartbeat.
    events: list[WatchEvent] = []
    for t in range(41, 60):
        events += [ProbeFailed(float(t), "timed out"), Tick(float(t))]
    for event in events:
        state, more = step(state, event, AUTO)
        effects += more
    takeover_at = next(t for t in range(41, 60) if state.phase == Phase.TOOK_OVER)
    assert state.phase == Phase.TOOK_OVER and takeover_at
    lost = [e for e in effects if isinstance(e, Publish) and e.type == EventType.PRIMARY_LOST]
    assert lost and lost[0].data["failover_in_s"] >= 7  # counted from the last heartbeat (40), not from 0


def test_a_heartbeat_during_the_countdown_cancels_it() -> None:
    state, _ = run(AUTO, silence(5))
    assert state.phase == Phase.COUNTDOWN
    state, effects = step(state, Heartbeat(5.5), AUTO)
    assert state.phase == Phase.REACHABLE
    assert [e for e in effects if isinstance(e, Publish) and e.type == EventType.PRIMARY_RECOVERED]


def test_a_refusing_primary_is_never_taken_over() -> None:
    state, effects = run(AUTO, [ProbeRefused(1.0, "The peer does not know this appliance's token."),
                                *silence(30)])
    assert state.phase == Phase.REFUSED and state.primary_reachable is True
    assert not [e for e in effects if isinstance(e, TakeOver)]
    refused = [e for e in effects if isinstance(e, Publish) and e.type == EventType.PRIMARY_REFUSED]
    assert len(refused) == 1 and "never take over" in str(refused[0].data["detail"])
    state, effects = step(state, ProbeOk(31.0), AUTO)
    assert state.phase == Phase.REACHABLE


def test_a_witness_not_reached_blocks_until_it_answers() -> None:
    blocked = WatchConfig(**{**AUTO.__dict__, "witness_blocker": "the witness 10.0.0.1:443 cannot be reached"})
    state, effects = run(blocked, silence(20))
    assert state.phase == Phase.AWAITING_MANUAL and not [e for e in effects if isinstance(e, TakeOver)]
    _, effects = step(state, ConfigChanged(21.0), AUTO)
    assert [e for e in effects if isinstance(e, TakeOver)]


@pytest.mark.parametrize("name", ["dc1/pa-a", "..", "a b/c\\d", "/", "ünïcode/é", "x" * 300])
def test_any_appliance_name_makes_one_safe_file_name(name: str) -> None:
    safe = file_safe(name)
    assert safe and "/" not in safe and "\\" not in safe and safe not in (".", "..") and len(safe) <= 80


def _store(tmp_path: Path) -> tuple[Database, SiteStore]:
    db = Database(tmp_path / "site.db")
    feed.store_id(db.connect())
    return db, SiteStore(db)


def _sessions(n: int) -> list[tuple[object, ...]]:
    return [(uuid.uuid4().hex, "u", "t", "ssh", "2026-01-01", None, None) for _ in range(n)]


def test_keep_diverged_keeps_exactly_the_rows_after_the_confirmed_change(tmp_path: Path) -> None:
    db, site = _store(tmp_path)
    site.add_sessions(_sessions(50))
    confirmed = site.last_seq()
    assert keep_diverged(db.path, tmp_path, "dc1/pa-a", 3, confirmed).path is None  # nothing diverged
    assert not (tmp_path / "split-brain").exists()
    later = _sessions(4)
    site.add_sessions(later)
    site.set_setting("email", {"sender": "last@example.com"})
    site.delete("sessions", str(later[0][0]))
    content = os.urandom(2 * CHUNK_SIZE + 5)  # a diverged recording: kept with its content (from its file)
    site.write_recording([content], recording_id="rec")
    kept = keep_diverged(db.path, tmp_path, "dc1/pa-a", 3, confirmed)
    assert kept.path is not None and kept.path.parent == tmp_path / "split-brain" and "dc1_pa-a" in kept.path.name
    assert kept.rows == {"sessions": 3, "site_settings": 1, "tombstones": 1, "recordings": 1}
    assert kept.path.stat().st_mode & 0o077 == 0
    with sqlite3.connect(kept.path) as conn:
        assert {r[0] for r in conn.execute("SELECT id FROM sessions")} == {str(s[0]) for s in later[1:]}
        assert orjson.loads(conn.execute("SELECT value FROM site_settings").fetchone()[0])["sender"] == \
            "last@example.com"
        assert "local" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert b"".join(r[0] for r in conn.execute("SELECT data FROM recording_chunks WHERE recording_id = 'rec' "
                                                   "ORDER BY idx")) == content


def test_keep_diverged_leaves_no_partial_file_when_it_fails(tmp_path: Path) -> None:
    db, site = _store(tmp_path)
    site.add_sessions(_sessions(3))
    (tmp_path / "split-brain").write_text("a file in the way")
    with pytest.raises(OSError):
        keep_diverged(db.path, tmp_path, "alpha", 1, 0)


def test_site_writes_are_refused_in_the_same_transaction_once_fenced_or_backup(tmp_path: Path) -> None:
    db, site = _store(tmp_path)
    site.add_sessions(_sessions(1))
    with db.write() as conn:
        set_in(conn, "fence", {"peer": "beta"})
    with pytest.raises(SiteWriteRefused, match="fenced"):
        site.set_setting("email", {"sender": "x"})
    with db.write() as conn:
        conn.execute("DELETE FROM local WHERE key = 'fence'")
        set_in(conn, "role", "backup")
    with pytest.raises(SiteWriteRefused, match="backup"):
        site.add_sessions(_sessions(1))
    assert site.digest().sessions == 1


def test_the_apply_refuses_when_the_role_or_epoch_moved(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    primary_db, primary = _store(tmp_path / "p")
    primary.add_sessions(_sessions(5))
    backup_db = Database(tmp_path / "backup.db")
    conn = backup_db.connect()
    with backup_db.write() as w:
        set_in(w, "role", "backup")
        set_in(w, "epoch", 4)
    own = feed.store_id(primary_db.connect())
    stream = feed.changes(primary_db.path, own, 0, "", {}, "", -1)
    header = orjson.loads(next(stream)[4:])
    staging.begin(conn, header)
    for message in stream:
        page = orjson.loads(message[4:])
        if page["k"] == "end":
            break
        staging.stage_page(conn, page["k"], page["rows"], page["last"])
    with backup_db.write() as w:  # a takeover committed while the pull ran
        set_in(w, "role", "primary")
        set_in(w, "epoch", 5)
    with pytest.raises(staging.RoleChanged, match="nothing of what was pulled was applied"):
        staging.apply(conn, header["digest"], {}, expected_epoch=4)
    assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
