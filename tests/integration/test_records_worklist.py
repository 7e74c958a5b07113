"""The worklist resumes each course from its stored last dose; its decisions are the ones a
derivation of the whole history gives (``evaluate_patient``), on both databases."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from records_helpers import T0, ZONE, World, enrol, give
from sqlalchemy import update

from tarla.adapters import orm
from tarla.bootstrap import App
from tarla.domain import course as core
from tarla.services import clinical, queries
from tarla.services._common import course_input, history_for, labs_since, zone_of
from tarla.services.demo import load_demo_data
from tarla.services.records import CourseHistory
from tarla.services.scope import OPERATOR

TODAY = date(2026, 12, 1)
DEMO_NOW = datetime.combine(TODAY, time(10, 0), ZONE)


def _whole_history_decision(app: App, course_id: int, as_of: datetime) -> core.Decision:
    """The reference: every dose derived from the first (what ``evaluate_patient`` does), with
    only what was on record by ``as_of``."""
    with app.uow().readonly() as uow:
        course = uow.courses.get(course_id)
        assert course is not None
        site = uow.sites.get(course.site_id)
        assert site is not None
        h = history_for(uow, course)
        admins = tuple(a for a in h.administrations if a.started_at <= as_of)
        cut = labs_since(admins, h.adverse_events)
        labs = tuple(x for x in uow.labs.for_patient(h.patient.id, cut)
                     if x.collected_at <= as_of)
    h = CourseHistory(course, h.patient, admins,
                      tuple(e for e in h.adverse_events if e.onset <= as_of), labs)
    return core.evaluate(course_input(h, as_of, zone_of(site)))


def _worklist_decisions(app: App, site: str, day: date, now: datetime
                        ) -> dict[int, tuple[core.CourseInput, core.Decision]]:
    with app.uow().readonly() as uow:
        s = uow.sites.by_code(site)
        assert s is not None
        as_of = queries._as_of(day, now, zone_of(s))
        inputs = queries.worklist_inputs(uow, s.id, zone_of(s), day, as_of)  # type: ignore[arg-type]
    out = {}
    for due, inp in inputs:
        assert isinstance(inp, core.CourseInput), inp
        out[due.course_id] = (inp, core.evaluate(inp))
    return out


def _same(resumed: core.Decision, whole: core.Decision) -> None:
    assert (resumed.action, resumed.next_dose, resumed.care, resumed.reasons,
            resumed.pending_checks) == (whole.action, whole.next_dose, whole.care,
                                        whole.reasons, whole.pending_checks)


@pytest.fixture
def demo(app: App) -> App:
    load_demo_data(app.uow, patients=21, seed=4, today=TODAY)
    return app


@pytest.mark.parametrize("days_ahead", [0, 7, 14])
def test_worklist_decisions_equal_whole_history_decisions_for_every_due_course(
        demo: App, days_ahead: int) -> None:
    day = TODAY + timedelta(days=days_ahead)
    now = DEMO_NOW if days_ahead == 0 else datetime.combine(day, time(23, 59, 59), ZONE)
    decided = _worklist_decisions(demo, "DEMO", day, DEMO_NOW)
    assert len(decided) >= 10
    resumed = 0
    for course_id, (inp, decision) in decided.items():
        _same(decision, _whole_history_decision(demo, course_id, now))
        if inp.prior is not None:
            resumed += 1
            assert inp.administrations == ()  # nothing given after the stored last dose
            assert all(x.collected_at >= inp.prior.started_at for x in inp.labs)
    assert resumed >= 8
    # And the use case the screens call agrees with the single-patient screen.
    wl = queries.worklist(demo.uow(), site_code="DEMO", now=DEMO_NOW, viewer=OPERATOR, on=day)
    for item in wl.items:
        full = queries.evaluate_patient(demo.uow(), now=now, viewer=OPERATOR,
                                        course_id=item.course_id)
        assert _summary(item) == _summary_json(full)


def _summary(item: queries.WorklistItem) -> tuple[Any, ...]:
    return (item.decision, item.slot, item.dose_mg,
            None if item.due_date is None else item.due_date.isoformat(), item.kind,
            list(item.reasons))


def _summary_json(d: dict[str, Any]) -> tuple[Any, ...]:
    nd = d["next_dose"]
    rules = list(dict.fromkeys(r["rule"] for r in d["reasons"]))
    if nd is None:
        return (d["decision"], None, None, None, None, rules)
    return (d["decision"], nd["slot"], nd["dose_mg"], nd["due_date"], nd["kind"], rules)


def test_a_past_day_reads_the_whole_history_of_a_course_dosed_since(world: World) -> None:
    c = enrol(world).course_id
    give(world, c, 0, 1)
    give(world, c, 7, 10)
    _set_course(world.app, c, next_due_date=T0.date())  # still listed for an earlier day
    day = (T0 + timedelta(days=3)).date()
    as_of = datetime.combine(day, time(23, 59, 59), ZONE)
    decided = _worklist_decisions(world.app, world.site, day, T0 + timedelta(days=21))
    inp, decision = decided[c]
    assert inp.prior is None and len(inp.administrations) == 1  # the later dose is not seen
    _same(decision, _whole_history_decision(world.app, c, as_of))
    assert decision.next_dose is not None and decision.next_dose.slot.label == "C1D8"


def _set_course(app: App, course_id: int, **values: Any) -> None:
    t = orm.TreatmentCourse.__table__
    with app.engine.begin() as conn:
        conn.execute(update(t).where(t.c.id == course_id).values(**values))


def test_a_course_without_a_stored_last_dose_is_read_whole(world: World) -> None:
    c = enrol(world).course_id
    give(world, c, 0, 1)
    give(world, c, 7, 10)
    _set_course(world.app, c, last_slot_index=None, last_restart_step=None, last_kind=None,
                last_dose_mg=None)
    now = T0 + timedelta(days=21, hours=2)
    decided = _worklist_decisions(world.app, world.site, now.date(), now)
    inp, decision = decided[c]
    assert inp.prior is None and len(inp.administrations) == 2
    _same(decision, _whole_history_decision(world.app, c, now))


def test_a_dose_recorded_after_the_stored_one_is_read_and_derived_from_it(world: World
                                                                          ) -> None:
    c = enrol(world).course_id
    give(world, c, 0, 1)
    give(world, c, 7, 10)
    give(world, c, 14, 10)
    # Put the course back as it stood after the second dose (as a writer that stored the
    # dose but not the course would leave it): the worklist must read the third dose.
    with world.app.uow().readonly() as uow:
        doses = uow.administrations.for_course(c)
    _set_course(world.app, c, last_dose_at=doses[1].started_at, last_slot_index=1,
                last_restart_step=0, last_kind="planned", last_dose_mg=10, doses_given=2,
                next_due_date=T0.date())
    now = T0 + timedelta(days=28, hours=2)
    decided = _worklist_decisions(world.app, world.site, now.date(), now)
    inp, decision = decided[c]
    assert inp.prior is not None and inp.prior.slot.label == "C1D8"
    assert [a.started_at for a in inp.administrations] == [doses[2].started_at]
    _same(decision, _whole_history_decision(world.app, c, now))
    assert decision.next_dose is not None and decision.next_dose.slot.label == "C2D1"


def test_febrile_neutropenia_before_the_last_dose_reaches_its_labs_back_to_onset(
        world: World) -> None:
    c = enrol(world).course_id
    give(world, c, 0, 1)
    onset = T0 + timedelta(days=3)
    ev = clinical.record_adverse_event(
        world.app.uow(), course_id=c, type="febrile_neutropenia", grade=3, onset=onset,
        actor=world.physician, now=onset + timedelta(hours=1))
    with world.app.uow().readonly() as uow:
        course = uow.courses.get(c)
        assert course is not None
        pid = course.patient_id
    drawn = onset + timedelta(days=2)
    clinical.record_lab(world.app.uow(), patient_id=pid, test="ANC", value=1.6,
                        unit="10^9/L", lln=1.8, collected_at=drawn, actor=world.nurse,
                        now=drawn + timedelta(hours=1))
    clinical.resolve_adverse_event(world.app.uow(), event_id=ev, resolved_at=drawn,
                                   actor=world.physician, now=drawn + timedelta(hours=2))
    give(world, c, 7, 10)
    now = T0 + timedelta(days=14, hours=2)
    decided = _worklist_decisions(world.app, world.site, now.date(), now)
    inp, decision = decided[c]
    assert inp.prior is not None and drawn in [x.collected_at for x in inp.labs]
    _same(decision, _whole_history_decision(world.app, c, now))


def test_a_dose_recorded_through_the_service_stores_where_the_course_stands(world: World
                                                                            ) -> None:
    c = enrol(world).course_id
    with world.app.uow().readonly() as uow:
        fresh = uow.courses.get(c)
    assert fresh is not None and (fresh.last_dose_at, fresh.last_slot_index) == (None, None)

    give(world, c, 0, 1)
    second = give(world, c, 7, 10)
    with world.app.uow().readonly() as uow:
        course = uow.courses.get(c)
    assert course is not None
    assert (course.last_dose_at, course.doses_given, course.last_slot_index,
            course.last_restart_step, course.last_kind, course.last_dose_mg) == (
        second.started_at, 2, 1, 0, "planned", 10)

    # Seven weeks off: the next dose is the Table 4 restart 1 mg step-up.
    restart = give(world, c, 7 + 49, 1)
    assert restart.kind == "restart_step_up"
    with world.app.uow().readonly() as uow:
        course = uow.courses.get(c)
    assert course is not None
    assert (course.last_dose_at, course.doses_given, course.last_slot_index,
            course.last_restart_step, course.last_kind, course.last_dose_mg) == (
        restart.started_at, 3, 2, 1, "restart_step_up", 1)
    prior = core.resume_point(course.last_dose_at, course.last_dose_mg,  # type: ignore[arg-type]
                              course.last_slot_index, course.last_kind,  # type: ignore[arg-type]
                              course.last_restart_step, ZONE)  # type: ignore[arg-type]
    with world.app.uow().readonly() as uow:
        h = history_for(uow, course)
    last = core.evaluate(course_input(h, restart.started_at + timedelta(days=1), ZONE)
                         ).history[-1]
    assert prior == last._replace(input_index=-1)
