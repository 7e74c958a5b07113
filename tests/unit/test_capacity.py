"""Capacity core (issue 12): the model in absolute minutes of the site's zone, the first come,
first served baseline, the shortage report and the checks on a booking moved by hand.

Every expectation is worked by hand from the small centre of ``capacity_cases`` (open 08:00 to
18:00 on weekdays, labs 30 min before the infusion, so the first infusion starts at 08:30).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pytest
from capacity_cases import (
    BED_24H,
    MONDAY,
    NOW,
    NY,
    OBSERVE_4H,
    OBSERVE_8H,
    at,
    centre,
    dose,
    violations,
)

from tarla.domain.capacity import (
    Booking,
    build_model,
    check_booking,
    first_come_first_served,
    longest_first,
)
from tarla.domain.errors import InvalidInput

TUESDAY, WEDNESDAY, SATURDAY = (MONDAY + timedelta(days=n) for n in (1, 2, 5))


def _starts(plan: object) -> dict[str, datetime]:
    return {b.key: b.start for b in plan.bookings}  # type: ignore[attr-defined]


# --- the model ------------------------------------------------------------------------------

def test_opening_hours_become_minutes_from_local_midnight_and_weekends_are_closed() -> None:
    model = build_model(centre(), [], MONDAY, 7, now=NOW)
    assert model.windows[0] == (8 * 60, 18 * 60)
    assert model.windows[1] == (1440 + 8 * 60, 1440 + 18 * 60)
    assert model.windows[5] is None and model.windows[6] is None


def test_the_dst_week_has_a_23_hour_sunday_in_absolute_minutes() -> None:
    # 2027-03-14 (Sunday) clocks go 02:00 -> 03:00 in New York
    start = date(2027, 3, 8)
    model = build_model(centre(), [], start, 14, now=datetime(2027, 3, 5, tzinfo=NY))
    assert model.midnights[6] == 6 * 1440
    assert model.midnights[7] == 7 * 1440 - 60
    assert model.windows[7] == (7 * 1440 - 60 + 8 * 60, 7 * 1440 - 60 + 18 * 60)
    assert model.at(7 * 1440 - 60 + 8 * 60) == datetime(2027, 3, 15, 8, 0, tzinfo=NY)


def test_a_night_shift_crossing_midnight_covers_the_small_hours() -> None:
    model = build_model(centre(night_nurses=1, per_nurse=4), [], MONDAY, 3, now=NOW)
    seg = {(a, b): cap for a, b, cap in model.nurse_capacity}
    # Monday 19:00 to Tuesday 07:00: one nurse, four patients
    assert seg[(19 * 60, 1440 + 7 * 60)] == 4
    # Monday 07:00-19:00: four day nurses (the night nurse has gone home)
    assert seg[(7 * 60, 19 * 60)] == 16


@pytest.mark.parametrize(("change", "field"), [
    ({"site_tz": "Mars/Olympus"}, "site_tz"),
    ({"chairs": -1}, "chairs"),
])
def test_a_bad_centre_is_refused_with_the_field_named(change: dict[str, object],
                                                      field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        build_model(replace(centre(), **change), [], MONDAY, 7, now=NOW)  # type: ignore
    assert err.value.field == field


def test_a_demand_given_twice_or_a_naive_now_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        build_model(centre(), [dose("a", MONDAY), dose("a", TUESDAY)], MONDAY, now=NOW)
    assert err.value.field == "demands[1].key"
    with pytest.raises(InvalidInput) as err:
        build_model(centre(), [], MONDAY, now=datetime(2026, 12, 4, 12))
    assert err.value.field == "now"


def test_a_dose_cannot_follow_one_due_after_it() -> None:
    with pytest.raises(InvalidInput) as err:
        build_model(centre(), [dose("a", TUESDAY), dose("b", MONDAY, follows="a")], MONDAY,
                    now=NOW)
    assert err.value.field == "demands[1].follows"


# --- the baseline ---------------------------------------------------------------------------

def test_first_come_first_served_puts_each_dose_at_its_first_free_time() -> None:
    demands = [dose("a", MONDAY), dose("b", MONDAY), dose("c", MONDAY)]
    plan = first_come_first_served(build_model(centre(chairs=1), demands, MONDAY, 7, now=NOW))
    # 1 h infusion + 2 h observation = 3 h in the chair, one chair
    assert _starts(plan) == {"a": at(MONDAY, 8, 30), "b": at(MONDAY, 11, 30),
                             "c": at(MONDAY, 14, 30)}
    assert [b.labs_start for b in plan.bookings][0] == at(MONDAY, 8, 0)
    # c ends at 17:30, before closing: no overtime
    assert plan.lateness_days == 0 and plan.overtime_minutes == 0


def test_a_stay_running_past_closing_counts_as_overtime() -> None:
    demands = [dose("a", MONDAY, after=OBSERVE_4H), dose("b", MONDAY, after=OBSERVE_4H)]
    plan = first_come_first_served(build_model(centre(chairs=1), demands, MONDAY, 7, now=NOW))
    # a 08:30-13:30, b 13:30-18:30: 30 min after closing, within the 120 min allowance
    assert _starts(plan)["b"] == at(MONDAY, 13, 30)
    assert plan.overtime_minutes == 30


def test_nothing_starts_before_its_due_date() -> None:
    plan = first_come_first_served(build_model(centre(), [dose("a", WEDNESDAY)], MONDAY, 7,
                                               now=NOW))
    assert _starts(plan) == {"a": at(WEDNESDAY, 8, 30)}


def test_a_dose_due_on_a_closed_day_goes_to_the_next_open_day_and_counts_late() -> None:
    plan = first_come_first_served(build_model(centre(), [dose("a", SATURDAY)], MONDAY, 14,
                                               now=NOW))
    booking = plan.bookings[0]
    assert booking.start == at(MONDAY + timedelta(days=7), 8, 30)
    assert booking.late_days == 2 and plan.lateness_days == 2


def test_nothing_is_booked_before_now() -> None:
    now = at(MONDAY, 12, 0)
    plan = first_come_first_served(build_model(centre(), [dose("a", MONDAY)], MONDAY, 7,
                                               now=now))
    assert _starts(plan) == {"a": at(MONDAY, 12, 30)}  # labs at 12:00, not earlier


def test_a_bed_stay_crosses_midnight_and_holds_the_bed_24_hours() -> None:
    demands = [dose("a", MONDAY, kind="bed"), dose("b", MONDAY, kind="bed")]
    plan = first_come_first_served(build_model(centre(beds=1), demands, MONDAY, 7, now=NOW))
    a, b = plan.bookings
    assert (a.start, a.end) == (at(MONDAY, 8, 30), at(TUESDAY, 8, 30))
    # the second step-up patient waits for the bed: one day late
    assert b.start == at(TUESDAY, 8, 30) and b.late_days == 1
    assert plan.lateness_days == 1 and plan.bed_nights == 2


def test_a_bed_taken_from_10_00_is_free_again_at_10_00_the_next_day() -> None:
    demands = [dose("pinned", MONDAY, kind="bed", pinned_start=at(MONDAY, 10)),
               dose("b", MONDAY, kind="bed")]
    plan = first_come_first_served(build_model(centre(beds=1), demands, MONDAY, 7, now=NOW))
    assert _starts(plan) == {"pinned": at(MONDAY, 10), "b": at(TUESDAY, 10)}


def test_a_bed_stay_needs_a_nurse_overnight() -> None:
    demands = [dose("a", MONDAY, kind="bed")]
    model = build_model(centre(night_nurses=0), demands, MONDAY, 3, now=NOW)
    plan = first_come_first_served(model)
    assert plan.unplaced == ("a",)
    assert [(s.resource, s.day) for s in plan.shortages] == [("nurse", MONDAY)]


def test_a_bed_stay_over_the_spring_forward_night_ends_24_absolute_hours_later() -> None:
    saturday = date(2027, 3, 13)
    c = centre(weekdays=range(7))
    plan = first_come_first_served(build_model(c, [dose("a", saturday, kind="bed")], saturday,
                                               3, now=datetime(2027, 3, 12, tzinfo=NY)))
    booking = plan.bookings[0]
    assert booking.start == datetime(2027, 3, 13, 8, 30, tzinfo=NY)
    # clocks spring forward that night: 24 h later the wall clock says 09:30
    assert booking.end.astimezone(NY).time() == time(9, 30)
    assert booking.end.astimezone(NY).date() == date(2027, 3, 14)


def test_a_dose_after_another_waits_the_planned_interval_from_the_day_it_is_booked() -> None:
    demands = [dose("c1d1", MONDAY, kind="bed"), dose("blocker", MONDAY, kind="bed"),
               dose("c1d8", MONDAY + timedelta(days=7), kind="bed", follows="c1d1",
                    min_days_after=7)]
    # blocker sorts first (key order): c1d1 goes Tuesday; c1d8 is then due the next Tuesday
    plan = first_come_first_served(build_model(centre(beds=1), demands, MONDAY, 14, now=NOW))
    starts = _starts(plan)
    assert starts["c1d1"] == at(TUESDAY, 8, 30)
    assert starts["c1d8"] == at(TUESDAY + timedelta(days=7), 8, 30)
    # c1d1 one day late; c1d8 is on time from the dose before it
    assert plan.lateness_days == 1


def test_a_dose_pushed_past_the_horizon_by_the_one_before_is_deferred_not_short() -> None:
    demands = [dose("blocker", MONDAY, kind="bed"), dose("c1d1", MONDAY, kind="bed"),
               dose("c1d8", MONDAY + timedelta(days=7), kind="bed", follows="c1d1",
                    min_days_after=7)]
    plan = first_come_first_served(build_model(centre(beds=1), demands, MONDAY, 8, now=NOW))
    assert plan.deferred == ("c1d8",) and plan.unplaced == () and plan.shortages == ()


def test_the_shortage_names_the_resource_and_the_day() -> None:
    demands = [dose("a", MONDAY, kind="bed"), dose("b", MONDAY, kind="bed")]
    plan = first_come_first_served(build_model(centre(beds=1), demands, MONDAY, 1, now=NOW))
    assert plan.unplaced == ("b",)
    (short,) = plan.shortages
    assert (short.resource, short.day, short.needed, short.available) == ("bed", MONDAY, 2, 1)
    assert "bed" in short.reason and "2026-12-07" in short.reason


def test_a_dose_due_after_the_horizon_is_reported_as_such() -> None:
    plan = first_come_first_served(build_model(centre(), [dose("a", MONDAY + timedelta(
        days=30))], MONDAY, 7, now=NOW))
    (short,) = plan.shortages
    assert short.resource == "hours" and "after the last day" in short.reason


def test_the_constructive_plan_puts_the_long_stay_first() -> None:
    # two chairs; two 3 h stays and one 9 h stay (8 h observation) due Monday. The long one
    # must start by 11:00 (18:00 + 2 h allowance - 9 h): first come, first served fills both
    # chairs with the short ones until 11:30 and sends the long one to Tuesday.
    demands = [dose("a", MONDAY), dose("b", MONDAY), dose("c", MONDAY, after=OBSERVE_8H)]
    model = build_model(centre(chairs=2), demands, MONDAY, 7, now=NOW)
    assert first_come_first_served(model).lateness_days == 1
    plan = longest_first(model)
    assert plan.lateness_days == 0
    assert _starts(plan) == {"c": at(MONDAY, 8, 30), "a": at(MONDAY, 8, 30),
                             "b": at(MONDAY, 11, 30)}
    assert violations(model.centre, demands, plan, NOW) == []


# --- a booking moved by hand ----------------------------------------------------------------

def _booking(key: str, start: datetime, minutes: int, resource: str = "chair") -> Booking:
    return Booking(key=key, resource=resource, unit=1,  # type: ignore[arg-type]
                   labs_start=start - timedelta(minutes=30), start=start,
                   end=start + timedelta(minutes=minutes), late_days=0, overtime_minutes=0)


def _rules(refusals: tuple[object, ...]) -> list[str]:
    return [r.rule for r in refusals]  # type: ignore[attr-defined]


def test_a_free_chair_in_opening_hours_on_the_due_date_is_allowed() -> None:
    model = build_model(centre(), [], MONDAY, 7, now=NOW)
    assert check_booking(model, (), dose("a", MONDAY), at(MONDAY, 9)) == ()


def test_a_full_chair_is_refused_with_the_resource_and_the_time() -> None:
    model = build_model(centre(chairs=1), [], MONDAY, 7, now=NOW)
    existing = (_booking("x", at(MONDAY, 8, 30), 180),)
    (refusal,) = check_booking(model, existing, dose("a", MONDAY), at(MONDAY, 10))
    assert refusal.rule == "capacity.chair" and refusal.field == "start"
    assert refusal.message == "all 1 chairs are taken at 2026-12-07 10:00 EST"


def test_moving_a_booking_onto_its_own_old_place_is_not_a_clash() -> None:
    model = build_model(centre(chairs=1), [], MONDAY, 7, now=NOW)
    existing = (_booking("a", at(MONDAY, 8, 30), 180),)
    assert check_booking(model, existing, dose("a", MONDAY), at(MONDAY, 9)) == ()


def test_a_full_bed_is_refused_until_the_stay_before_ends() -> None:
    model = build_model(centre(beds=1), [], MONDAY, 7, now=NOW)
    existing = (_booking("x", at(MONDAY, 10), BED_24H, "bed"),)
    (refusal,) = check_booking(model, existing, dose("a", TUESDAY, kind="bed"),
                               at(TUESDAY, 9))
    assert refusal.rule == "capacity.bed"
    assert refusal.message == "all 1 beds are taken at 2026-12-08 09:00 EST"
    assert check_booking(model, existing, dose("a", TUESDAY, kind="bed"), at(TUESDAY, 10)) == ()


def test_a_start_before_opening_is_refused_with_both_times() -> None:
    model = build_model(centre(), [], MONDAY, 7, now=NOW)
    (refusal,) = check_booking(model, (), dose("a", MONDAY), at(MONDAY, 8))
    assert refusal.rule == "capacity.hours"
    assert "07:30" in refusal.message and "08:00" in refusal.message


def test_a_closed_day_is_refused_by_name() -> None:
    model = build_model(centre(), [], MONDAY, 7, now=NOW)
    (refusal,) = check_booking(model, (), dose("a", MONDAY), at(SATURDAY, 10))
    assert refusal.rule == "capacity.hours"
    assert refusal.message == "the centre is closed on Saturday 2026-12-12"


def test_a_start_before_the_due_date_is_refused() -> None:
    model = build_model(centre(), [], MONDAY, 7, now=NOW)
    (refusal,) = check_booking(model, (), dose("a", WEDNESDAY), at(MONDAY, 10))
    assert refusal.rule == "capacity.due"
    assert "2026-12-09" in refusal.message and "2026-12-07 10:00" in refusal.message


def test_a_stay_beyond_the_overtime_allowance_is_refused() -> None:
    model = build_model(centre(allowance=60), [], MONDAY, 7, now=NOW)
    # 16:00 + 1 h + 4 h = 21:00, 180 min after closing at 18:00
    (refusal,) = check_booking(model, (), dose("a", MONDAY, after=OBSERVE_4H), at(MONDAY, 16))
    assert refusal.rule == "capacity.overtime"
    assert "21:00" in refusal.message and "180 min after closing" in refusal.message


def test_exhausted_nurses_are_refused_with_the_time() -> None:
    model = build_model(centre(chairs=3, day_nurses=1, per_nurse=1), [], MONDAY, 7, now=NOW)
    existing = (_booking("x", at(MONDAY, 8, 30), 180),)
    (refusal,) = check_booking(model, existing, dose("a", MONDAY), at(MONDAY, 11))
    assert refusal.rule == "capacity.nurses"
    assert "2026-12-07 11:00" in refusal.message and "1 patient" in refusal.message


def test_a_full_compounding_hour_is_refused() -> None:
    model = build_model(centre(compounding=1), [], MONDAY, 7, now=NOW)
    existing = (_booking("x", at(MONDAY, 9), 180),)
    (refusal,) = check_booking(model, existing, dose("a", MONDAY), at(MONDAY, 9, 30))
    # x's bag is made 08:00-09:00, a's would be 08:30-09:30
    assert refusal.rule == "capacity.compounding"
    assert "2026-12-07 08:30" in refusal.message


def test_a_dose_too_soon_after_the_one_before_is_refused() -> None:
    model = build_model(centre(), [], MONDAY, 14, now=NOW)
    existing = (_booking("c1d1", at(TUESDAY, 9), BED_24H, "bed"),)
    demand = dose("c1d8", MONDAY + timedelta(days=7), kind="bed", follows="c1d1",
                  min_days_after=7)
    (refusal,) = check_booking(model, existing, demand, at(MONDAY + timedelta(days=7), 9))
    assert refusal.rule == "capacity.interval" and "6 days after" in refusal.message


def test_a_naive_start_is_refused() -> None:
    model = build_model(centre(), [], MONDAY, 7, now=NOW)
    with pytest.raises(InvalidInput) as err:
        check_booking(model, (), dose("a", MONDAY), datetime(2026, 12, 7, 9))
    assert err.value.field == "start"
