"""The planned C1D1 date: before any dose the first dose is due on the course's start date,
not on the day someone happens to look (a course enrolled to start next week is not due today).

Dates are New York site-local; the start date is Tuesday 2026-12-22, a week after
Tuesday 2026-12-15."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from course_builders import ADULT, NY, at, doses, lab

from tarla.domain.course import CourseInput, DecisionAction, evaluate, resume_point
from tarla.domain.errors import InvalidInput
from tarla.services import admin, clinical, queries
from tarla.services.fakes import FakeStore, FakeUnitOfWork
from tarla.services.scope import OPERATOR

START = date(2026, 12, 22)


def planned(as_of: str, given=(), *, labs=(), start: object = START, prior=None):
    return evaluate(CourseInput(at(as_of), NY, ADULT, given, (), tuple(labs), prior=prior,
                                start_date=start))  # type: ignore[arg-type]


# --- the engine -----------------------------------------------------------------------------

def test_a_course_starting_next_week_waits_today_with_the_start_date_as_due_date() -> None:
    d = planned("2026-12-15 09:00")
    assert d.action is DecisionAction.WAIT
    assert d.next_dose is not None
    assert (d.next_dose.slot.label, d.next_dose.dose_mg, d.next_dose.due_date) == (
        "C1D1", 1, date(2026, 12, 22))


def test_the_day_before_the_start_date_is_still_wait() -> None:
    assert planned("2026-12-21 23:59").action is DecisionAction.WAIT


def test_the_first_dose_is_given_on_the_start_date() -> None:
    d = planned("2026-12-22 07:30")
    assert d.action is DecisionAction.GIVE
    assert d.next_dose is not None and d.next_dose.due_date == date(2026, 12, 22)


def test_after_a_missed_start_date_the_first_dose_is_given_and_keeps_its_planned_date() -> None:
    d = planned("2026-12-24 09:00")
    assert d.action is DecisionAction.GIVE
    assert d.next_dose is not None and d.next_dose.due_date == date(2026, 12, 22)


def test_the_start_date_is_read_as_a_site_local_date() -> None:
    # 03:30 UTC on the 22nd is 22:30 on the 21st in New York: not the start date yet.
    as_of = datetime(2026, 12, 22, 3, 30, tzinfo=ZoneInfo("UTC"))
    d = evaluate(CourseInput(as_of, NY, ADULT, start_date=START))
    assert d.as_of_date == date(2026, 12, 21)
    assert d.action is DecisionAction.WAIT


def test_without_a_start_date_the_first_dose_is_due_on_the_day_asked() -> None:
    d = planned("2026-12-15 09:00", start=None)
    assert d.action is DecisionAction.GIVE
    assert d.next_dose is not None and d.next_dose.due_date == date(2026, 12, 15)


def test_once_c1d1_is_given_the_dates_follow_the_dose_not_the_start_date() -> None:
    # C1D1 given two days late, on 2026-12-24: C1D8 is due 7 days later, 2026-12-31.
    d = planned("2026-12-28 09:00", doses(("2026-12-24 09:00", 1)))
    assert d.action is DecisionAction.WAIT
    assert d.next_dose is not None
    assert (d.next_dose.slot.label, d.next_dose.due_date) == ("C1D8", date(2026, 12, 31))


def test_a_resume_point_wins_over_the_start_date() -> None:
    prior = resume_point(at("2026-12-24 09:00"), 1, 0, "planned", 0, NY)
    d = planned("2026-12-28 09:00", prior=prior)
    assert d.next_dose is not None and d.next_dose.due_date == date(2026, 12, 31)


def test_toxicity_still_holds_the_first_dose_on_its_start_date() -> None:
    # ANC 0.4 x 10^9/L is below 0.5: withhold (label-facts §6).
    d = planned("2026-12-22 08:00", labs=[lab("ANC", 0.4, "10*9/L", "2026-12-21 15:00",
                                              lln=1.8)])
    assert d.action is DecisionAction.HOLD
    assert d.next_dose is not None and d.next_dose.due_date == date(2026, 12, 22)


@pytest.mark.parametrize("bad", [datetime(2026, 12, 22, 9, 0, tzinfo=NY), "2026-12-22", 20261222])
def test_a_start_date_that_is_not_a_calendar_date_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        planned("2026-12-15 09:00", start=bad)
    assert caught.value.field == "start_date"


# --- the services: every place that builds the engine's input passes the start date ---------

T0 = datetime(2026, 12, 15, 9, 0, tzinfo=NY)


@pytest.fixture
def store() -> FakeStore:
    s = FakeStore()
    admin.create_site(FakeUnitOfWork(s), code="NYC", name="NYC", timezone="America/New_York",
                      now=T0 - timedelta(days=30))
    admin.create_user(FakeUnitOfWork(s), username="dr", display_name="dr", roles=["physician"],
                      now=T0 - timedelta(days=30), site_code="NYC")
    return s


def _enrol_for_next_week(store: FakeStore) -> clinical.EnrolResult:
    return clinical.enrol_patient(
        FakeUnitOfWork(store), site_code="NYC", mrn="M1", family_name="Doe", given_name="Jane",
        birth_date=date(1958, 4, 2), diagnosis="ES-SCLC", progressed_after_platinum=True,
        start_date=START, actor="dr", now=T0)


def test_a_patient_enrolled_to_start_next_week_is_wait_today_due_on_the_start_date(
        store: FakeStore) -> None:
    r = _enrol_for_next_week(store)
    assert r.next_due_date == date(2026, 12, 22)
    d = queries.evaluate_patient(FakeUnitOfWork(store), now=T0, viewer=OPERATOR,
                                 course_id=r.course_id)
    assert d["decision"] == "wait"
    assert d["next_dose"]["slot"] == "C1D1" and d["next_dose"]["due_date"] == "2026-12-22"


def test_a_course_starting_next_week_is_not_on_todays_worklist(store: FakeStore) -> None:
    _enrol_for_next_week(store)
    wl = queries.worklist(FakeUnitOfWork(store), site_code="NYC", now=T0, viewer=OPERATOR)
    assert wl.items == ()


def test_on_its_start_date_the_course_is_on_the_worklist_to_give(store: FakeStore) -> None:
    r = _enrol_for_next_week(store)
    on_the_day = datetime(2026, 12, 22, 7, 30, tzinfo=NY)
    wl = queries.worklist(FakeUnitOfWork(store), site_code="NYC", now=on_the_day,
                          viewer=OPERATOR)
    assert [(i.course_id, i.decision, i.slot, i.due_date) for i in wl.items] == [
        (r.course_id, "give", "C1D1", date(2026, 12, 22))]


def test_a_missed_start_date_shows_on_later_worklists_as_due_since_the_start_date(
        store: FakeStore) -> None:
    r = _enrol_for_next_week(store)
    two_days_late = datetime(2026, 12, 24, 7, 30, tzinfo=NY)
    wl = queries.worklist(FakeUnitOfWork(store), site_code="NYC", now=two_days_late,
                          viewer=OPERATOR)
    assert [(i.course_id, i.decision, i.slot, i.due_date) for i in wl.items] == [
        (r.course_id, "give", "C1D1", date(2026, 12, 22))]
