"""Capacity services over the fakes (issue 12): durations from the engine's care per slot,
bookings flagged when a decision changes (a hold, a restart step-up), moves refused naming the
resource and the time, an accept that is all or nothing, sites as walls, resources validated."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tarla.domain import booking as gate
from tarla.domain import capacity as cap
from tarla.domain.care import care_for
from tarla.domain.errors import InvalidInput
from tarla.services import capacity, clinical
from tarla.services.demo import load_demo_data
from tarla.services.errors import Conflict, Forbidden, NotFound, Refused
from tarla.services.fakes import FakeStore, FakeUnitOfWork
from tarla.services.scope import OPERATOR, Scope

ZONE = ZoneInfo("America/New_York")
TODAY = date(2026, 12, 15)  # a Tuesday
NOW = datetime.combine(TODAY, time(7, 0), ZONE)
NEXT_MONDAY = date(2026, 12, 21)


class Baseline:
    def solve(self, model, *, time_limit_s=10.0, workers=2):  # type: ignore[no-untyped-def]
        return cap.first_come_first_served(model)


# --------------------------------------------------------------------------- the pure part


@pytest.mark.parametrize(("cycle", "day", "kind", "after", "rule"), [
    (1, 1, "bed", 24 * 60, "T1-MON-C1D1-D8"),   # 22-24 h from the start: the upper bound
    (1, 8, "bed", 24 * 60, "T1-MON-C1D1-D8"),
    (1, 15, "chair", 8 * 60, "T1-MON-C1D15"),   # observe 6-8 h after the infusion
    (2, 1, "chair", 8 * 60, "T1-MON-C2"),
    (3, 1, "chair", 4 * 60, "T1-MON-C3-C4"),    # 3-4 h
    (5, 1, "chair", 2 * 60, "T1-MON-C5"),       # 2 h
])
def test_the_stay_is_the_engines_care_for_the_slot(cycle, day, kind, after, rule):
    stay = gate.stay_for(care_for(cycle, day), labs_minutes=30)
    assert (stay.kind, stay.infusion_minutes, stay.after_minutes) == (kind, 60, after)
    assert stay.rules == ("T1-INFUSION", rule)
    # a bed is held from the infusion start for the whole stay; a chair for infusion + after
    assert stay.occupies_minutes == (after if kind == "bed" else 60 + after)


def test_a_negative_labs_draw_is_refused_naming_the_field():
    with pytest.raises(InvalidInput) as err:
        gate.stay_for(care_for(2, 1), labs_minutes=-5)
    assert err.value.field == "labs_minutes"


def test_a_changed_care_or_a_hold_means_the_booking_cannot_be_kept():
    planned = gate.Fingerprint("give", 10, "C2D1", "chair 8 h", date(2026, 12, 21))
    assert gate.changes(planned, planned) is None
    held = dataclasses.replace(planned, action="hold")
    change = gate.changes(planned, held, ("T5-CRS-G2: hold",))
    assert change is not None and not change.keep
    assert change.reasons == ("the dose is now held (T5-CRS-G2: hold)",)
    step_up = gate.Fingerprint("give", 1, "C2D8", "bed 24 h", date(2026, 12, 21))
    change = gate.changes(planned, step_up)
    assert change is not None and not change.keep
    assert "the dose changed from C2D1 10 mg to C2D8 1 mg" in change.reasons
    assert "the care changed from chair 8 h to bed 24 h" in change.reasons
    earlier = dataclasses.replace(planned, due_date=date(2026, 12, 20))
    change = gate.changes(planned, earlier)
    assert change is not None and change.keep  # still on or after the due date


# --------------------------------------------------------------------------- services


@pytest.fixture
def store() -> FakeStore:
    s = FakeStore()
    load_demo_data(lambda: FakeUnitOfWork(s), patients=21, today=TODAY)
    return s


def _uow(store: FakeStore) -> FakeUnitOfWork:
    return FakeUnitOfWork(store)


def _propose(store: FakeStore, start: date = NEXT_MONDAY, days: int = 7,
             now: datetime = NOW) -> capacity.PlanReview:
    return capacity.propose(_uow(store), site_code="DEMO", start=start, days=days,
                            actor="sched.lee", now=now, solver=Baseline())


def _proposed(review: capacity.PlanReview) -> dict[str, capacity.AppointmentView]:
    return {r.mrn: r.proposed for r in review.rows if r.proposed is not None}


def test_the_demo_centre_is_set_up_as_site_policy(store):
    setup = capacity.setup_of(_uow(store), site_code="DEMO", viewer=OPERATOR)
    r = setup.resources
    assert (r.chairs, r.beds, r.labs_minutes) == (12, 4, 30)
    assert [(h.weekday, h.opens, h.closes) for h in setup.hours] == [
        (d, "08:00", "18:00") for d in range(5)]
    assert {s.name: (s.weekdays, s.starts, s.ends, s.nurses) for s in setup.shifts} == {
        "day": ("01234", "07:30", "19:30", 4), "night": ("0123456", "19:30", "07:30", 2),
        "weekend day": ("56", "07:30", "19:30", 2)}


def test_each_booking_takes_its_durations_from_the_care_of_its_slot(store):
    review = _propose(store)
    booked = [r.proposed for r in review.rows if r.proposed is not None]
    assert booked
    for v in booked:
        a = v.record
        if a.slot in ("C1D1", "C1D8"):
            assert a.care_kind == "bed" and a.end_at - a.start_at == timedelta(hours=24)
            assert a.rules == ["T1-INFUSION", "T1-MON-C1D1-D8"] and v.crosses_midnight
        elif a.care_kind == "chair":
            cycle = int(a.slot[1:a.slot.index("D")])
            after = {1: 8, 2: 8, 3: 4, 4: 4}.get(cycle, 2)
            assert a.chair_until - a.start_at == timedelta(hours=1 + after)
        if a.labs_at is not None:
            assert a.start_at - a.labs_at == timedelta(minutes=30)
        assert a.start_at.astimezone(ZONE).date() >= a.due_date
    # the held patients of the demo are not booked, each with the hold's rule named
    held = [n for n in review.plan.summary["not_planned"] if "hold" in n["reason"]]
    assert held and all("T5-CRS-G2" in n["reason"] or "T7-NEUT" in n["reason"] for n in held)


def test_a_hold_flags_the_booking_and_it_cannot_be_kept(store):
    review = _propose(store)
    capacity.accept(_uow(store), plan_id=review.plan.id, actor="sched.lee", now=NOW)
    chair = next(v for v in _proposed(review).values() if v.record.care_kind == "chair")
    clinical.record_adverse_event(_uow(store), course_id=chair.record.course_id, type="CRS",
                                  grade=2, onset=NOW, actor="dr.khan", now=NOW)
    views = capacity.appointments(_uow(store), site_code="DEMO", start=NEXT_MONDAY,
                                  end=NEXT_MONDAY + timedelta(days=6), viewer=OPERATOR,
                                  now=NOW + timedelta(minutes=1))
    mine = next(v for v in views if v.record.id == chair.record.id)
    assert mine.flag is not None and not mine.flag.keep
    assert mine.flag.reasons[0].startswith("the dose is now held (T5-CRS-G2:")
    others = [v for v in views if v.record.id != chair.record.id]
    assert all(v.flag is None for v in others)


def test_a_resolved_grade_2_crs_turns_a_chair_booking_into_a_bed_and_the_planner_moves_it(store):
    review = _propose(store)
    capacity.accept(_uow(store), plan_id=review.plan.id, actor="sched.lee", now=NOW)
    chair = next(v for v in _proposed(review).values() if v.record.care_kind == "chair")
    cid = chair.record.course_id
    event = clinical.record_adverse_event(_uow(store), course_id=cid, type="CRS", grade=2,
                                          onset=NOW, actor="dr.khan", now=NOW)
    later = NOW + timedelta(hours=2)
    clinical.resolve_adverse_event(_uow(store), event_id=event, resolved_at=later,
                                   actor="dr.khan", now=later)
    flagged = next(v for v in capacity.appointments(
        _uow(store), site_code="DEMO", start=NEXT_MONDAY, end=NEXT_MONDAY + timedelta(days=6),
        viewer=OPERATOR, now=later) if v.record.id == chair.record.id)
    assert flagged.flag is not None and not flagged.flag.keep
    assert any("to bed 24 h" in r for r in flagged.flag.reasons)
    again = _propose(store, now=later)
    row = next(r for r in again.rows if r.course_id == cid)
    assert row.change == "moved" and row.proposed.record.care_kind == "bed"
    assert row.proposed.record.rules == ["T1-INFUSION", "T1-MON-AFTER-G2"]
    capacity.accept(_uow(store), plan_id=again.plan.id, actor="sched.lee", now=later)
    old = _uow(store).capacity.appointment(chair.record.id)
    assert old.status == "superseded"


def test_the_accepted_bookings_stay_pinned_in_the_next_plan(store):
    review = _propose(store)
    capacity.accept(_uow(store), plan_id=review.plan.id, actor="sched.lee", now=NOW)
    again = _propose(store)
    assert {r.change for r in again.rows} == {"kept"}
    assert again.plan.summary["kept"]


def test_a_move_is_refused_naming_the_resource_and_the_time_and_writes_nothing(store):
    review = _propose(store, days=5)
    capacity.accept(_uow(store), plan_id=review.plan.id, actor="sched.lee", now=NOW)
    chair = next(v for v in _proposed(review).values() if v.record.care_kind == "chair")
    before = (len(store.audit), store.tables["appointments"].rows[chair.record.id])
    at = datetime.combine(NEXT_MONDAY, time(17, 30), ZONE)
    with pytest.raises(Refused) as err:
        capacity.move(_uow(store), appointment_id=chair.record.id, start=at,
                      actor="sched.lee", now=NOW)
    assert err.value.rules[0] == "capacity.hours"  # (and the chair stay's overtime)
    assert "after closing at 2026-12-21 18:00 EST" in err.value.message
    saturday = datetime.combine(date(2026, 12, 19), time(10), ZONE)
    with pytest.raises(Refused) as err:
        capacity.move(_uow(store), appointment_id=chair.record.id, start=saturday,
                      actor="sched.lee", now=NOW)
    assert "closed on Saturday 2026-12-19" in err.value.message
    assert (len(store.audit), store.tables["appointments"].rows[chair.record.id]) == before


def test_a_move_onto_a_full_bed_names_the_beds_and_the_minute(store):
    # a centre with one bed: a second 24 h stay at the same time finds it taken
    capacity.set_resources(_uow(store), site_code="DEMO", actor="admin", now=NOW, beds=1)
    review = _propose(store, days=5)
    capacity.accept(_uow(store), plan_id=review.plan.id, actor="sched.lee", now=NOW)
    beds = sorted((v for v in _proposed(review).values() if v.record.care_kind == "bed"),
                  key=lambda v: v.record.start_at)
    assert len(beds) >= 2
    first, second = beds[0], beds[1]
    with pytest.raises(Refused) as err:
        capacity.move(_uow(store), appointment_id=second.record.id,
                      start=first.record.start_at.astimezone(ZONE), actor="sched.lee",
                      now=NOW)
    text = err.value.message
    assert "capacity.bed" in err.value.rules and "all 1 beds are taken at" in text
    assert f"{first.local_start:%Y-%m-%d %H:%M} EST" in text


def test_a_held_dose_or_one_not_yet_due_is_not_moved(store):
    review = _propose(store)
    capacity.accept(_uow(store), plan_id=review.plan.id, actor="sched.lee", now=NOW)
    chair = next(v for v in _proposed(review).values() if v.record.care_kind == "chair")
    early = datetime.combine(chair.record.due_date - timedelta(days=1), time(9), ZONE)
    if early.weekday() < 5 and early > NOW:
        with pytest.raises(Refused) as err:
            capacity.move(_uow(store), appointment_id=chair.record.id, start=early,
                          actor="sched.lee", now=NOW)
        assert "BOOK-NOT-DUE" in err.value.rules
    clinical.record_adverse_event(_uow(store), course_id=chair.record.course_id, type="CRS",
                                  grade=2, onset=NOW, actor="dr.khan", now=NOW)
    with pytest.raises(Refused) as err:
        capacity.move(_uow(store), appointment_id=chair.record.id,
                      start=chair.record.start_at, actor="sched.lee", now=NOW)
    assert err.value.rules[0] == "BOOK-HELD" and "T5-CRS-G2" in err.value.message


def test_accept_is_all_or_nothing_when_a_decision_changed_since_the_proposal(store):
    review = _propose(store)
    chair = next(v for v in _proposed(review).values() if v.record.care_kind == "chair")
    clinical.record_adverse_event(_uow(store), course_id=chair.record.course_id, type="CRS",
                                  grade=2, onset=NOW, actor="dr.khan", now=NOW)
    audit_before = len(store.audit)
    with pytest.raises(Refused) as err:
        capacity.accept(_uow(store), plan_id=review.plan.id, actor="sched.lee", now=NOW)
    assert err.value.rules == ("BOOK-DECISION-CHANGED",)
    assert "held" in err.value.message
    rows = store.tables["appointments"].rows.values()
    assert {a.status for a in rows} == {"proposed"}
    assert len(store.audit) == audit_before
    assert _uow(store).capacity.plan(review.plan.id).status == "proposed"


def test_only_a_scheduler_plans_and_only_an_admin_sets_resources(store):
    with pytest.raises(Forbidden):
        capacity.propose(_uow(store), site_code="DEMO", start=NEXT_MONDAY, days=7,
                         actor="rn.alvarez", now=NOW, solver=Baseline())
    with pytest.raises(Forbidden):
        capacity.set_resources(_uow(store), site_code="DEMO", actor="sched.lee", now=NOW,
                               chairs=3)


def test_sites_are_walls(store):
    load_demo_data(lambda: FakeUnitOfWork(store), patients=3, today=TODAY, site_code="NORTH",
                   timezone="America/Chicago")
    review = _propose(store)
    capacity.accept(_uow(store), plan_id=review.plan.id, actor="sched.lee", now=NOW)
    north = Scope(_uow(store).sites.by_code("NORTH").id)
    with pytest.raises(NotFound) as err:
        capacity.review(_uow(store), plan_id=review.plan.id, viewer=north, now=NOW)
    assert err.value.message == f"no plan {review.plan.id}"
    with pytest.raises(NotFound):
        capacity.accept(_uow(store), plan_id=review.plan.id, actor="sched.north", now=NOW)
    some = next(iter(_proposed(review).values()))
    with pytest.raises(NotFound) as err:
        capacity.move(_uow(store), appointment_id=some.record.id, start=some.record.start_at,
                      actor="sched.north", now=NOW)
    assert err.value.message == f"no appointment {some.record.id}"
    with pytest.raises(NotFound):
        capacity.appointments(_uow(store), site_code="DEMO", start=TODAY, end=TODAY,
                              viewer=north, now=NOW)
    with pytest.raises(NotFound):
        capacity.set_resources(_uow(store), site_code="DEMO", actor="admin.north", now=NOW,
                               chairs=1)


@pytest.mark.parametrize(("call", "field"), [
    (lambda u: capacity.set_resources(u, site_code="DEMO", actor="admin", now=NOW,
                                      chairs="many"), "chairs"),
    (lambda u: capacity.set_resources(u, site_code="DEMO", actor="admin", now=NOW,
                                      patients_per_nurse=0), "patients_per_nurse"),
    (lambda u: capacity.set_hours(u, site_code="DEMO", weekday="funday", opens="08:00",
                                  closes="18:00", actor="admin", now=NOW), "weekday"),
    (lambda u: capacity.set_hours(u, site_code="DEMO", weekday="mon", opens="8am",
                                  closes="18:00", actor="admin", now=NOW), "opens"),
    (lambda u: capacity.set_shift(u, site_code="DEMO", name="x", weekdays="mon",
                                  starts="07:00", ends="07:00", nurses=1, actor="admin",
                                  now=NOW), "ends"),
    (lambda u: _propose_with(u, days=40), "days"),
])
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(store, call, field):
    before = len(store.audit)
    with pytest.raises(InvalidInput) as err:
        call(_uow(store))
    assert err.value.field == field
    assert len(store.audit) == before


def _propose_with(uow, days):  # type: ignore[no-untyped-def]
    return capacity.propose(uow, site_code="DEMO", start=NEXT_MONDAY, days=days,
                            actor="sched.lee", now=NOW, solver=Baseline())


def test_a_cancelled_plan_cannot_be_accepted_twice(store):
    review = _propose(store)
    capacity.accept(_uow(store), plan_id=review.plan.id, actor="sched.lee", now=NOW)
    with pytest.raises(Conflict):
        capacity.accept(_uow(store), plan_id=review.plan.id, actor="sched.lee", now=NOW)



def test_a_dose_delayed_into_a_restart_step_up_flags_the_booking_with_the_new_dose(store):
    review = _propose(store)
    capacity.accept(_uow(store), plan_id=review.plan.id, actor="sched.lee", now=NOW)
    chair = next(v for v in _proposed(review).values()
                 if v.record.care_kind == "chair" and v.record.dose_mg == 10)
    # nothing given for weeks: the engine now restarts with the step-up dose (Table 4)
    late = datetime.combine(chair.record.due_date + timedelta(days=60), time(9), ZONE)
    views = capacity.appointments(_uow(store), site_code="DEMO", start=NEXT_MONDAY,
                                  end=NEXT_MONDAY + timedelta(days=6), viewer=OPERATOR,
                                  now=late)
    mine = next(v for v in views if v.record.id == chair.record.id)
    assert mine.flag is not None and not mine.flag.keep
    changed = [r for r in mine.flag.reasons if r.startswith("the dose changed from")]
    assert changed and changed[0].endswith(" 1 mg")
