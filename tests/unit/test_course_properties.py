"""Invariants of the course engine (hypothesis). The numbers are the label's: doses at least
7 days apart, 14 days apart from Cycle 2 on, Table 4 limits 14/21/28 days (label-facts §3, §5)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from course_builders import ADULT
from hypothesis import given, settings
from hypothesis import strategies as st

from tarla.domain.course import Administration, CourseInput, DecisionAction, DoseKind, evaluate, resume_point

ZONES = st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Sydney",
                         "America/Los_Angeles", "Asia/Kolkata", "UTC"]).map(ZoneInfo)
DAYS = st.dates(min_value=date(2024, 1, 1), max_value=date(2034, 12, 31))
HOURS = st.times(min_value=time(6, 0), max_value=time(21, 59))


def _moment(day: date, t: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, t, tzinfo=zone)


def _on_time_course(start: date, zone: ZoneInfo, n: int, hours: list[time]):
    given: list[Administration] = []
    as_of = _moment(start, time(5, 0), zone)
    for i in range(n):
        d = evaluate(CourseInput(as_of, zone, ADULT, tuple(given)))
        assert d.next_dose is not None
        due = d.next_dose.due_date
        as_of = _moment(due, time(5, 0), zone)
        given.append(Administration(_moment(due, hours[i % len(hours)], zone),
                                    d.next_dose.dose_mg))
        as_of = _moment(due, time(23, 0), zone)
    return evaluate(CourseInput(as_of, zone, ADULT, tuple(given)))


@settings(max_examples=60, deadline=None)
@given(DAYS, ZONES, st.integers(min_value=2, max_value=30), st.lists(HOURS, min_size=1,
                                                                     max_size=5))
def test_an_on_time_course_never_puts_two_doses_less_than_7_days_apart(start, zone, n, hours):
    d = _on_time_course(start, zone, n, hours)
    dates = [g.local_date for g in d.history]
    assert all((b - a).days >= 7 for a, b in zip(dates, dates[1:]))
    assert all(g.kind is DoseKind.PLANNED for g in d.history)
    assert [g.dose_mg for g in d.history[:2]] == [1, 10][:len(d.history)]
    assert all(g.dose_mg == 10 for g in d.history[1:])
    assert d.warnings == ()


@settings(max_examples=60, deadline=None)
@given(DAYS, ZONES, st.integers(min_value=4, max_value=30), st.lists(HOURS, min_size=1,
                                                                     max_size=5))
def test_every_slot_from_cycle_2_is_14_days_after_the_previous_when_on_time(start, zone, n,
                                                                           hours):
    d = _on_time_course(start, zone, n, hours)
    for prev, cur in zip(d.history, d.history[1:]):
        if cur.slot.cycle >= 2:
            assert (cur.local_date - prev.local_date).days == 14
        else:
            assert (cur.local_date - prev.local_date).days == 7


# (number of on-time doses before the gap, Table 4 limit in days for that last dose)
LAST_DOSE_LIMITS = st.sampled_from([(1, 14), (2, 21), (3, 28), (4, 28), (9, 28)])


@settings(max_examples=80, deadline=None)
@given(DAYS, ZONES, LAST_DOSE_LIMITS, HOURS, HOURS, st.booleans())
def test_table_4_boundaries_hold_at_exactly_the_limit_counted_on_local_dates(
        start, zone, last_limit, dose_time, check_time, over):
    count, limit = last_limit
    d = _on_time_course(start, zone, count, [dose_time])
    last = d.history[-1]
    check_day = last.local_date + timedelta(days=limit + (1 if over else 0))
    given_ = tuple(Administration(g.started_at, g.dose_mg) for g in d.history)
    nxt = evaluate(CourseInput(_moment(check_day, check_time, zone), zone, ADULT, given_))
    assert nxt.next_dose is not None
    if over:
        assert (nxt.next_dose.kind, nxt.next_dose.dose_mg) == (DoseKind.RESTART_STEP_UP, 1)
    else:
        assert nxt.next_dose.kind is DoseKind.RESTART_CONTINUE
        assert nxt.next_dose.dose_mg == 10
    assert nxt.action is DecisionAction.GIVE


HISTORIES = st.lists(st.tuples(st.integers(min_value=1, max_value=45),
                               st.sampled_from([1, 10]), HOURS), min_size=0, max_size=25)


@settings(max_examples=80, deadline=None)
@given(DAYS, ZONES, HISTORIES, st.randoms(use_true_random=False),
       st.integers(min_value=0, max_value=40))
def test_decisions_never_change_when_administrations_are_shuffled(start, zone, steps, rnd,
                                                                  extra_days):
    given_: list[Administration] = []
    day = start
    for gap, mg, t in steps:
        day = day + timedelta(days=gap)
        given_.append(Administration(_moment(day, t, zone), mg))
    as_of = _moment(day + timedelta(days=extra_days), time(23, 30), zone)
    shuffled = list(given_)
    rnd.shuffle(shuffled)
    a = evaluate(CourseInput(as_of, zone, ADULT, tuple(given_)))
    b = evaluate(CourseInput(as_of, zone, ADULT, tuple(shuffled)))
    assert (a.action, a.next_dose, a.care, a.reasons, a.warnings, a.pending_checks) == \
        (b.action, b.next_dose, b.care, b.reasons, b.warnings, b.pending_checks)
    assert [(g.started_at, g.slot, g.kind) for g in a.history] == \
        [(g.started_at, g.slot, g.kind) for g in b.history]


@settings(max_examples=80, deadline=None)
@given(DAYS, ZONES, HISTORIES, st.integers(min_value=0, max_value=40), st.data())
def test_resuming_from_a_stored_last_dose_gives_the_same_decision(start, zone, steps, extra_days,
                                                                  data):
    given_: list[Administration] = []
    day = start
    for gap, mg, t in steps:
        day = day + timedelta(days=gap)
        given_.append(Administration(_moment(day, t, zone), mg))
    as_of = _moment(day + timedelta(days=extra_days), time(23, 30), zone)
    full = evaluate(CourseInput(as_of, zone, ADULT, tuple(given_)))
    if not full.history:
        return
    cut = data.draw(st.integers(min_value=0, max_value=len(full.history) - 1))
    stored = full.history[cut]
    prior = resume_point(stored.started_at, stored.dose_mg, stored.slot.index, stored.kind,
                         stored.restart_step, zone)
    recent = tuple(Administration(g.started_at, g.dose_mg) for g in full.history[cut + 1:])
    resumed = evaluate(CourseInput(as_of, zone, ADULT, recent, prior=prior))
    assert (resumed.action, resumed.next_dose, resumed.care, resumed.reasons,
            resumed.pending_checks) == (full.action, full.next_dose, full.care, full.reasons,
                                        full.pending_checks)
    assert [(g.slot, g.kind) for g in resumed.history] == \
        [(g.slot, g.kind) for g in full.history[cut + 1:]]


def test_a_dose_not_after_the_stored_last_dose_is_refused() -> None:
    zone = ZoneInfo("America/New_York")
    prior = resume_point(datetime(2026, 12, 8, 9, tzinfo=zone), 10, 1, "planned", 0, zone)
    import pytest

    from tarla.domain.errors import InvalidInput
    with pytest.raises(InvalidInput) as err:
        evaluate(CourseInput(datetime(2026, 12, 20, 9, tzinfo=zone), zone, ADULT,
                             (Administration(datetime(2026, 12, 8, 9, tzinfo=zone), 10),),
                             prior=prior))
    assert err.value.field == "administrations[0].started_at"
