"""The in-use clock (label-facts §4 time limits) and the intact-carton excursion clock.

Golden times are worked by hand: reconstitution + 4 h to dilute; 8 h of room-temperature time
in total, paused only during the first refrigeration; 7 days at most; latest start = discard -
60 min. All windows are elapsed time, so across a DST change the wall clock moves by 1 h more
or less than the window and the output shows both offsets.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tarla.domain.clock import ClockEvent, ClockStatus, EventKind, Phase, evaluate_clock
from tarla.domain.errors import InvalidInput
from tarla.domain.excursion import (
    ExcursionEvent,
    ExcursionKind,
    ExcursionStatus,
    evaluate_excursion,
)

NY = ZoneInfo("America/New_York")
d = datetime.fromisoformat


def clock(now: str, *events: tuple[str, str]):
    return evaluate_clock([ClockEvent(EventKind(k), d(at)) for k, at in events], d(now), NY)


def codes(report) -> list[str]:
    return [v.code.value for v in report.violations]


def test_room_temperature_bag_has_4_h_to_dilute_and_8_h_to_discard():  # contract example 009
    r = clock("2026-12-15T12:00:00-05:00",
              ("reconstituted", "2026-12-15T08:00:00-05:00"),
              ("bag_prepared", "2026-12-15T08:30:00-05:00"))
    assert r.status is ClockStatus.OK
    assert r.dilute_by.isoformat() == "2026-12-15T12:00:00-05:00"
    assert r.discard_at.isoformat() == "2026-12-15T16:00:00-05:00"
    assert r.latest_infusion_start.isoformat() == "2026-12-15T15:00:00-05:00"
    assert r.room_temperature_used == timedelta(hours=4)
    assert r.room_temperature_left == timedelta(hours=4)
    assert r.usable


def test_refrigerated_bag_keeps_7_days_from_reconstitution_and_pauses_room_time():
    r = clock("2026-12-16T06:00:00-05:00",
              ("reconstituted", "2026-12-15T08:00:00-05:00"),
              ("bag_prepared", "2026-12-15T08:40:00-05:00"),
              ("refrigerated", "2026-12-15T09:00:00-05:00"))
    assert r.status is ClockStatus.OK and r.refrigerated
    assert r.discard_at.isoformat() == "2026-12-22T08:00:00-05:00"
    assert r.latest_infusion_start.isoformat() == "2026-12-22T07:00:00-05:00"
    assert r.room_temperature_used == timedelta(hours=1)
    assert r.room_temperature_left == timedelta(hours=7)


def test_bag_out_of_the_refrigerator_gets_the_room_time_that_is_left():
    r = clock("2026-12-16T08:00:00-05:00",
              ("reconstituted", "2026-12-15T08:00:00-05:00"),
              ("bag_prepared", "2026-12-15T08:40:00-05:00"),
              ("refrigerated", "2026-12-15T09:00:00-05:00"),
              ("removed_from_refrigerator", "2026-12-16T07:00:00-05:00"))
    # 1 h before the refrigerator + 1 h since: 6 h left from now
    assert r.room_temperature_used == timedelta(hours=2)
    assert r.discard_at.isoformat() == "2026-12-16T14:00:00-05:00"
    assert r.latest_infusion_start.isoformat() == "2026-12-16T13:00:00-05:00"
    assert not r.refrigerated


def test_completed_infusion_after_refrigeration_is_ok_and_stops_the_clock():
    events = (("reconstituted", "2026-12-15T08:00:00-05:00"),
              ("bag_prepared", "2026-12-15T08:40:00-05:00"),
              ("refrigerated", "2026-12-15T09:00:00-05:00"),
              ("removed_from_refrigerator", "2026-12-16T07:00:00-05:00"),
              ("infusion_started", "2026-12-16T09:00:00-05:00"),
              ("infusion_completed", "2026-12-16T10:00:00-05:00"))
    r = clock("2026-12-16T13:00:00-05:00", *events)
    later = clock("2026-12-20T13:00:00-05:00", *events)
    assert r.status is ClockStatus.OK and r.phase is Phase.INFUSED
    assert r.room_temperature_used == timedelta(hours=4)
    assert later.room_temperature_used == timedelta(hours=4)
    assert later.status is ClockStatus.OK and not later.usable


def test_diluting_at_exactly_4_h_is_in_time():
    r = clock("2026-12-15T12:00:00-05:00",
              ("reconstituted", "2026-12-15T08:00:00-05:00"),
              ("bag_prepared", "2026-12-15T12:00:00-05:00"))
    assert r.status is ClockStatus.OK


def test_diluting_after_4_h_is_a_violation():
    r = clock("2026-12-15T12:30:00-05:00",
              ("reconstituted", "2026-12-15T08:00:00-05:00"),
              ("bag_prepared", "2026-12-15T12:01:00-05:00"))
    assert r.status is ClockStatus.VIOLATION
    assert codes(r) == ["DILUTED_AFTER_4H"]
    assert r.violations[0].at.isoformat() == "2026-12-15T12:01:00-05:00"


def test_an_undiluted_vial_past_4_h_has_expired():
    r = clock("2026-12-15T12:01:00-05:00", ("reconstituted", "2026-12-15T08:00:00-05:00"))
    assert r.status is ClockStatus.EXPIRED
    assert codes(r) == ["EXPIRED"]
    assert r.violations[0].at.isoformat() == "2026-12-15T12:00:00-05:00"


def test_a_room_temperature_bag_expires_at_the_discard_time():
    events = (("reconstituted", "2026-12-15T08:00:00-05:00"),
              ("bag_prepared", "2026-12-15T08:30:00-05:00"))
    assert clock("2026-12-15T15:59:59-05:00", *events).status is ClockStatus.OK
    at_discard = clock("2026-12-15T16:00:00-05:00", *events)
    assert at_discard.status is ClockStatus.EXPIRED and codes(at_discard) == ["EXPIRED"]
    assert not at_discard.usable
    assert at_discard.room_temperature_left == timedelta(0)


def test_a_refrigerated_bag_expires_7_days_after_reconstitution():
    r = clock("2026-12-22T08:00:00-05:00",
              ("reconstituted", "2026-12-15T08:00:00-05:00"),
              ("bag_prepared", "2026-12-15T08:30:00-05:00"),
              ("refrigerated", "2026-12-15T08:45:00-05:00"))
    assert r.status is ClockStatus.EXPIRED
    assert r.discard_at.isoformat() == "2026-12-22T08:00:00-05:00"


def test_putting_a_bag_back_into_the_refrigerator_is_a_violation_and_earns_no_pause():
    r = clock("2026-12-16T12:00:00-05:00",
              ("reconstituted", "2026-12-15T08:00:00-05:00"),
              ("bag_prepared", "2026-12-15T08:30:00-05:00"),
              ("refrigerated", "2026-12-15T09:00:00-05:00"),
              ("removed_from_refrigerator", "2026-12-16T08:00:00-05:00"),
              ("refrigerated", "2026-12-16T09:00:00-05:00"))
    assert r.status is ClockStatus.VIOLATION
    assert "RE_REFRIGERATED" in codes(r)
    # 1 h + 1 h + 3 h back in the refrigerator that count as room temperature
    assert r.room_temperature_used == timedelta(hours=5)


def test_infusion_completed_after_the_discard_time_is_a_violation():
    r = clock("2026-12-15T17:00:00-05:00",
              ("reconstituted", "2026-12-15T08:00:00-05:00"),
              ("bag_prepared", "2026-12-15T08:30:00-05:00"),
              ("infusion_started", "2026-12-15T15:30:00-05:00"),
              ("infusion_completed", "2026-12-15T16:30:00-05:00"))
    assert r.status is ClockStatus.VIOLATION
    assert codes(r) == ["INFUSION_AFTER_DISCARD"]
    assert r.violations[0].at.isoformat() == "2026-12-15T16:30:00-05:00"


def test_infusion_started_at_the_latest_start_and_completed_at_discard_is_ok():
    r = clock("2026-12-15T17:00:00-05:00",
              ("reconstituted", "2026-12-15T08:00:00-05:00"),
              ("bag_prepared", "2026-12-15T08:30:00-05:00"),
              ("infusion_started", "2026-12-15T15:00:00-05:00"),
              ("infusion_completed", "2026-12-15T16:00:00-05:00"))
    assert r.status is ClockStatus.OK


def test_infusion_started_at_the_discard_time_is_a_violation():
    r = clock("2026-12-15T16:10:00-05:00",
              ("reconstituted", "2026-12-15T08:00:00-05:00"),
              ("bag_prepared", "2026-12-15T08:30:00-05:00"),
              ("infusion_started", "2026-12-15T16:00:00-05:00"))
    assert codes(r) == ["INFUSION_AFTER_DISCARD"]


def test_an_infusion_still_running_after_the_discard_time_is_a_violation():
    r = clock("2026-12-15T16:01:00-05:00",
              ("reconstituted", "2026-12-15T08:00:00-05:00"),
              ("bag_prepared", "2026-12-15T08:30:00-05:00"),
              ("infusion_started", "2026-12-15T15:30:00-05:00"))
    assert r.status is ClockStatus.VIOLATION
    assert codes(r) == ["INFUSION_AFTER_DISCARD"]
    assert r.violations[0].at.isoformat() == "2026-12-15T16:00:00-05:00"


@pytest.mark.parametrize("events", [
    (("infusion_started", "2026-12-15T08:10:00-05:00"),),
    (("removed_from_refrigerator", "2026-12-15T08:10:00-05:00"),),
    (("bag_prepared", "2026-12-15T07:59:00-05:00"),),
    (("bag_prepared", "2026-12-15T08:10:00-05:00"), ("bag_prepared", "2026-12-15T08:20:00-05:00")),
    (("infusion_completed", "2026-12-15T08:10:00-05:00"),),
    (("refrigerated", "2026-12-15T08:10:00-05:00"),),
    (("bag_prepared", "2026-12-15T08:10:00-05:00"), ("refrigerated", "2026-12-15T08:20:00-05:00"),
     ("infusion_started", "2026-12-15T08:30:00-05:00")),
], ids=["infusion-before-bag", "removed-never-refrigerated", "bag-before-reconstitution",
        "bag-twice", "completed-never-started", "vial-refrigerated", "infused-cold"])
def test_events_out_of_order_are_an_event_order_violation(events):
    r = clock("2026-12-15T09:00:00-05:00", ("reconstituted", "2026-12-15T08:00:00-05:00"),
              *events)
    assert r.status is ClockStatus.VIOLATION
    assert "EVENT_ORDER" in codes(r)


def test_events_listed_out_of_time_order_are_read_in_time_order():
    r = clock("2026-12-15T12:00:00-05:00",
              ("bag_prepared", "2026-12-15T08:30:00-05:00"),
              ("reconstituted", "2026-12-15T08:00:00-05:00"))
    assert r.status is ClockStatus.OK
    assert r.discard_at.isoformat() == "2026-12-15T16:00:00-05:00"


def test_discarding_the_empty_bag_after_the_infusion_is_fine():
    r = clock("2026-12-16T12:00:00-05:00",
              ("reconstituted", "2026-12-15T08:00:00-05:00"),
              ("bag_prepared", "2026-12-15T08:30:00-05:00"),
              ("infusion_started", "2026-12-15T09:00:00-05:00"),
              ("infusion_completed", "2026-12-15T10:00:00-05:00"),
              ("discarded", "2026-12-15T10:05:00-05:00"))
    assert r.status is ClockStatus.OK and r.phase is Phase.DISCARDED


@pytest.mark.parametrize(("now", "events", "field"), [
    ("2026-12-15T12:00:00", [("reconstituted", "2026-12-15T08:00:00-05:00")], "now"),
    ("2026-12-15T12:00:00-05:00", [("reconstituted", "2026-12-15T08:00:00")], "events[0].at"),
    ("2026-12-15T12:00:00-05:00", [("reconstituted", "2026-12-15T08:00:00-05:00"),
                                   ("bag_prepared", "2026-12-15T12:00:01-05:00")], "events[1].at"),
    ("2026-12-15T12:00:00-05:00", [("bag_prepared", "2026-12-15T08:00:00-05:00")], "events"),
    ("2026-12-15T12:00:00-05:00", [("reconstituted", "2026-12-15T08:00:00-05:00"),
                                   ("bag_prepared", "2026-12-15T08:30:00-05:00"),
                                   ("reconstituted", "2026-12-15T09:00:00-05:00")],
     "events[2].event"),
], ids=["naive-now", "naive-event", "event-after-now", "no-reconstitution",
        "second-reconstitution"])
def test_malformed_input_is_refused_naming_the_field(now, events, field):
    with pytest.raises(InvalidInput) as err:
        evaluate_clock([ClockEvent(EventKind(k), d(at)) for k, at in events], d(now), NY)
    assert err.value.field == field


# --------------------------------------------------------------------------- DST


def test_spring_forward_2026_03_08_windows_are_elapsed_time_with_two_offsets():
    r = clock("2026-03-08T01:00:00-05:00",
              ("reconstituted", "2026-03-07T21:30:00-05:00"),
              ("bag_prepared", "2026-03-07T21:45:00-05:00"))
    assert r.dilute_by.isoformat() == "2026-03-08T01:30:00-05:00"
    assert r.discard_at.isoformat() == "2026-03-08T06:30:00-04:00"  # 9 h on the wall clock
    assert r.latest_infusion_start.isoformat() == "2026-03-08T05:30:00-04:00"
    assert r.discard_at - r.reconstituted_at == timedelta(hours=8)


def test_fall_back_2026_11_01_windows_are_elapsed_time_with_two_offsets():
    r = clock("2026-11-01T00:30:00-04:00",
              ("reconstituted", "2026-10-31T21:30:00-04:00"),
              ("bag_prepared", "2026-10-31T21:45:00-04:00"))
    assert r.dilute_by.isoformat() == "2026-11-01T01:30:00-04:00"  # the first 01:30
    assert r.discard_at.isoformat() == "2026-11-01T04:30:00-05:00"  # 7 h on the wall clock
    assert r.latest_infusion_start.isoformat() == "2026-11-01T03:30:00-05:00"
    assert r.discard_at - r.reconstituted_at == timedelta(hours=8)


def test_room_time_counts_the_repeated_hour_of_the_fall_back_night():
    r = clock("2026-11-01T01:30:00-05:00",  # the second 01:30
              ("reconstituted", "2026-11-01T00:30:00-04:00"),
              ("bag_prepared", "2026-11-01T00:45:00-04:00"))
    assert r.room_temperature_used == timedelta(hours=2)


def test_seven_days_across_spring_forward_are_168_hours():
    r = clock("2026-03-06T09:00:00-05:00",
              ("reconstituted", "2026-03-05T09:00:00-05:00"),
              ("bag_prepared", "2026-03-05T09:30:00-05:00"),
              ("refrigerated", "2026-03-05T10:00:00-05:00"))
    assert r.discard_at.isoformat() == "2026-03-12T10:00:00-04:00"


def test_seven_days_across_fall_back_are_168_hours():
    r = clock("2026-10-30T09:00:00-04:00",
              ("reconstituted", "2026-10-29T09:00:00-04:00"),
              ("bag_prepared", "2026-10-29T09:30:00-04:00"),
              ("refrigerated", "2026-10-29T10:00:00-04:00"))
    assert r.discard_at.isoformat() == "2026-11-05T08:00:00-05:00"


# --------------------------------------------------------------------------- property

_KINDS = [k for k in EventKind if k is not EventKind.RECONSTITUTED]


@settings(max_examples=400, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                       timezones=st.just(UTC)),
    steps=st.lists(st.tuples(st.sampled_from(_KINDS), st.integers(0, 4 * 24 * 60)),
                   max_size=8),
    tail=st.integers(0, 9 * 24 * 60),
)
def test_no_bag_is_ever_usable_after_7_days_or_after_8_h_at_room_temperature(start, steps,
                                                                              tail):
    events = [ClockEvent(EventKind.RECONSTITUTED, start)]
    at = start
    for kind, gap in steps:
        at = at + timedelta(minutes=gap)
        events.append(ClockEvent(kind, at))
    now = at + timedelta(minutes=tail)
    r = evaluate_clock(events, now, NY)
    assert r.discard_at <= start + timedelta(days=7)
    assert r.latest_infusion_start == r.discard_at - timedelta(minutes=60)
    assert r.dilute_by == start + timedelta(hours=4)
    if r.usable:
        assert now - start <= timedelta(days=7)
        assert r.room_temperature_used <= timedelta(hours=8)
        if r.phase is not Phase.INFUSING:
            assert now < r.discard_at
    if r.room_temperature_used > timedelta(hours=8) and r.phase in (Phase.VIAL, Phase.BAG,
                                                                    Phase.INFUSING):
        assert r.status is not ClockStatus.OK
    assert r.room_temperature_used + r.room_temperature_left >= timedelta(hours=8)
    assert r.discard_at.utcoffset() == r.discard_at.astimezone(NY).utcoffset()


@settings(max_examples=300, deadline=None)
@given(
    dilute=st.integers(0, 240), before_fridge=st.integers(0, 240),
    in_fridge=st.integers(0, 8 * 24 * 60), warm=st.integers(0, 600), run=st.integers(0, 600),
)
def test_a_well_ordered_bag_counts_room_time_exactly_outside_the_refrigerator(
        dilute, before_fridge, in_fridge, warm, run):
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    times = [t0]
    for gap in (dilute, before_fridge, in_fridge, warm):
        times.append(times[-1] + timedelta(minutes=gap))
    kinds = [EventKind.RECONSTITUTED, EventKind.BAG_PREPARED, EventKind.REFRIGERATED,
             EventKind.REMOVED_FROM_REFRIGERATOR, EventKind.INFUSION_STARTED]
    now = times[-1] + timedelta(minutes=run)
    r = evaluate_clock([ClockEvent(k, t) for k, t in zip(kinds, times)], now, NY)
    room = timedelta(minutes=dilute + before_fridge + warm + run)
    assert r.room_temperature_used == room
    # Reference: the instant the cumulative room time reaches 8 h (the refrigerator pauses it)
    budget, before = timedelta(hours=8), timedelta(minutes=dilute + before_fridge)
    removed = times[3]
    runs_out = t0 + budget if before >= budget else removed + (budget - before)
    assert r.discard_at == min(t0 + timedelta(days=7), runs_out)
    late_start = times[-1] >= r.discard_at
    still_running_late = now > r.discard_at
    assert (r.status is ClockStatus.OK) == (not late_start and not still_running_late)


# --------------------------------------------------------------------------- excursion


def excursion(now: str, *events: tuple[str, str]):
    return evaluate_excursion([ExcursionEvent(ExcursionKind(k), d(at)) for k, at in events],
                              d(now), NY)


def test_intact_carton_room_time_adds_up_over_excursions():
    r = excursion("2026-12-15T13:00:00-05:00",
                  ("out_of_refrigerator", "2026-12-14T08:00:00-05:00"),
                  ("into_refrigerator", "2026-12-14T10:00:00-05:00"),
                  ("out_of_refrigerator", "2026-12-15T10:00:00-05:00"))
    assert r.status is ExcursionStatus.OK
    assert r.room_temperature_used == timedelta(hours=5)
    assert r.room_temperature_left == timedelta(hours=19)
    assert r.discard_at is not None
    assert r.discard_at.isoformat() == "2026-12-16T08:00:00-05:00"
    assert r.unverified  # the cumulative reading is UNVERIFIED


def test_intact_carton_may_spend_exactly_24_h_out_but_not_a_minute_more():
    ok = excursion("2026-12-16T08:00:00-05:00",
                   ("out_of_refrigerator", "2026-12-15T08:00:00-05:00"))
    late = excursion("2026-12-16T08:01:00-05:00",
                     ("out_of_refrigerator", "2026-12-15T08:00:00-05:00"))
    assert ok.status is ExcursionStatus.OK
    assert late.status is ExcursionStatus.DISCARD


def test_a_frozen_carton_is_discarded():
    r = excursion("2026-12-15T13:00:00-05:00", ("frozen", "2026-12-15T07:00:00-05:00"))
    assert r.status is ExcursionStatus.DISCARD
    assert "do not freeze" in r.problems[0]


def test_intact_carton_24_h_across_fall_back_is_elapsed_time():
    r = excursion("2026-11-01T07:00:00-05:00",
                  ("out_of_refrigerator", "2026-10-31T08:00:00-04:00"))
    assert r.room_temperature_used == timedelta(hours=24)
    assert r.status is ExcursionStatus.OK


def test_taking_a_carton_out_twice_is_refused_naming_the_event():
    with pytest.raises(InvalidInput) as err:
        excursion("2026-12-15T13:00:00-05:00",
                  ("out_of_refrigerator", "2026-12-15T08:00:00-05:00"),
                  ("out_of_refrigerator", "2026-12-15T09:00:00-05:00"))
    assert err.value.field == "events[1].event"
