"""The typed events of the protocol (issue 15): one model per type, unknown types kept raw, the wire unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

import pytest

from pa_console.agent.eventbus import EventBus
from pa_console.protocol import events as ev
from pa_console.protocol.models import Event, EventType


class _Log:
    def __init__(self) -> None:
        self.items: list[tuple[datetime, str, dict[str, Any]]] = []

    def append_many(self, items: list[tuple[datetime, str, dict[str, Any]]]) -> list[Event]:
        self.items += items
        return [Event(id=i, ts=ts, type=t, data=d) for i, (ts, t, d) in enumerate(items, len(self.items))]


def test_each_model_has_its_own_event_type() -> None:
    models = get_args(get_args(ev.KnownEvent)[0])
    tags = [str(get_args(m.model_fields["type"].annotation)[0]) for m in models]
    assert len(set(tags)) == len(tags) and set(tags) == ev.KNOWN_TYPES
    # Every type of issue 15's time has its model; a type added without one is kept raw (never lost), and adding
    # its model is one class and one line in KnownEvent.
    assert {"agent_started", "countdown", "primary_lost", "takeover", "takeover_step", "sync_finished",
            "mail_failed", "site_changed"} <= ev.KNOWN_TYPES


def test_wire_round_trip_keeps_field_names_and_extras() -> None:
    body = ev.Countdown(failover_in_s=12, auto_failover=True, action="takeover")
    event = Event.of(body, id=3, ts=datetime.now(UTC))
    wire = Event.model_validate_json(event.model_dump_json())
    assert wire.type == "countdown" and "type" not in wire.data
    assert wire.data["failover_in_s"] == 12 and wire.data["action"] == "takeover"
    assert wire.body == body
    newer = ev.parse_body("countdown", {**wire.data, "fencing_token": 9})  # a newer agent's extra field
    assert isinstance(newer, ev.Countdown) and ev.wire_data(newer)[1]["fencing_token"] == 9


def test_unknown_types_and_odd_data_are_kept_raw() -> None:
    unknown = Event(id=1, ts=datetime.now(UTC), type="witness_lost", data={"witness": "w1"}).body
    assert isinstance(unknown, ev.UnknownEvent) and unknown.data == {"witness": "w1"} and unknown.problem is None
    odd = ev.parse_body("countdown", {"failover_in_s": "soon"})
    assert isinstance(odd, ev.UnknownEvent) and odd.problem and "failover_in_s" in odd.problem
    assert ev.wire_data(odd) == ("countdown", {"failover_in_s": "soon"})


def test_the_countdown_says_what_happens_at_its_end() -> None:
    assert ev.Countdown(failover_in_s=5, auto_failover=True, action="takeover").takes_over
    blocked = ev.Countdown(failover_in_s=5, auto_failover=True, action="await_manual_failover",
                           takeover_blocked="the DNS server does not answer")
    assert not blocked.takes_over
    assert not ev.Countdown(failover_in_s=5, auto_failover=True, takeover_blocked="x").takes_over  # older agent
    assert ev.Countdown(failover_in_s=5, auto_failover=True).takes_over


def test_a_takeover_step_has_one_shape_wherever_it_comes_from() -> None:
    role = ev.wire_data(ev.TakeoverStep(step="role", ok=True, detail="beta is primary", duration_s=0.01))[1]
    swing = ev.wire_data(ev.TakeoverStep(step="nat_swing", method="nat_swing", event="takeover", ok=False,
                                         detail="exit 1", exit_status=1, output="no route"))[1]
    assert role.keys() == swing.keys()
    assert (role["outcome"], swing["outcome"]) == ("done", "failed")


def test_the_bus_publishes_models_and_types_the_keyword_form() -> None:
    log = _Log()
    bus = EventBus(log)  # type: ignore[arg-type]
    bus.publish(ev.PrimaryLost(error="connection refused", failover_in_s=30, action="await_manual_failover"))
    bus.publish(EventType.TAKEOVER_STEP, step="shared_address", ok=False, detail="in use")  # a helper's older call
    bus.publish("witness_lost", witness="w1")  # a type this version has no model for: published as given
    (_, t1, d1), (_, t2, d2), (_, t3, d3) = log.items
    assert t1 == "primary_lost" and d1["error"] == "connection refused" and d1["takeover_blocked"] is None
    assert t2 == "takeover_step" and d2["outcome"] == "failed" and d2["duration_s"] == 0.0
    assert (t3, d3) == ("witness_lost", {"witness": "w1"})
    with pytest.raises(TypeError):
        bus.publish(ev.PullsResumed(), extra=1)
